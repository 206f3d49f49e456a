//! Shared rules for request bodies: bounded strings, nullable patch fields, query parameters.

use oblivious_gateway::ProductError;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SHORT_TEXT_CHARS: usize = 2_000;
pub const MAX_PROMPT_CHARS: usize = 100_000;
/// A single message; the relay's body limit applies to the whole prompt as well.
pub const MAX_MESSAGE_CHARS: usize = 400_000;

/// Most knowledge bases one session or agent may draw on.
pub const MAX_KNOWLEDGE_BASES: usize = 10;

/// Links `ids` (the body's `knowledge_base_ids`) with `link`, the store's call, which answers
/// false when one of them is not the user's (and then links none).
pub async fn link_knowledge_bases<F>(ids: &[Uuid], link: impl FnOnce() -> F) -> oblivious_gateway::ApiResult<()>
where
    F: std::future::Future<Output = oblivious_store::StoreResult<bool>>,
{
    if ids.len() > MAX_KNOWLEDGE_BASES {
        return Err(ProductError::invalid(
            "knowledge_base_ids",
            format!("at most {MAX_KNOWLEDGE_BASES} knowledge bases"),
        ));
    }
    if !link().await? {
        return Err(ProductError::invalid("knowledge_base_ids", "each must be one of your knowledge bases"));
    }
    Ok(())
}

/// A patch field that distinguishes "absent" (`None`) from "null" (`Some(None)`).
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Refuses a string longer than `max` characters, naming the field.
pub fn bounded(field: &str, value: &str, max: usize) -> Result<(), ProductError> {
    let count = value.chars().count();
    if count > max {
        return Err(ProductError::invalid(field, format!("at most {max} characters, got {count}")));
    }
    Ok(())
}

/// Like `bounded`, for an optional value.
pub fn bounded_opt(field: &str, value: Option<&str>, max: usize) -> Result<(), ProductError> {
    value.map_or(Ok(()), |v| bounded(field, v, max))
}

/// A required, non-blank text.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<(), ProductError> {
    if value.trim().is_empty() {
        return Err(ProductError::invalid(field, "must not be empty"));
    }
    bounded(field, value, max)
}

/// An id in a query string.
pub fn query_id(field: &str, value: Option<&str>) -> Result<Option<Uuid>, ProductError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| Uuid::parse_str(v).map_err(|_| ProductError::invalid(field, "not an id")))
        .transpose()
}

/// A temperature from a body: `Some(milli)`, or the field's error.
pub fn temperature(field: &str, value: Option<f64>) -> Result<Option<i32>, ProductError> {
    crate::views::temperature_milli(value).map_err(|reason| ProductError::invalid(field, reason))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "nullable")]
        value: Option<Option<u32>>,
    }

    #[test]
    fn nullable_fields_tell_absent_from_null() {
        let absent: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.value, None);
        let null: Patch = serde_json::from_str(r#"{"value": null}"#).unwrap();
        assert_eq!(null.value, Some(None));
        let set: Patch = serde_json::from_str(r#"{"value": 3}"#).unwrap();
        assert_eq!(set.value, Some(Some(3)));
    }

    #[test]
    fn strings_are_bounded_and_required_ones_not_blank() {
        assert!(bounded("title", "abc", 3).is_ok());
        let error = bounded("title", "abcd", 3).unwrap_err();
        assert!(error.message.starts_with("title:"), "{}", error.message);
        assert!(required_text("content", "  ", 10).is_err());
        assert!(query_id("before", Some("x")).is_err());
        assert_eq!(query_id("before", Some("")).ok(), Some(None));
    }
}
