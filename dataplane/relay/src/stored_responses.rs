//! The relay's memory of Responses-API answers: what `store` (default true) promises a client.
//! A kept response can be read back (`GET /v1/responses/{id}`, `.../input_items`), deleted, and
//! continued with `previous_response_id` — resolved here into the conversation it names, so the
//! next turn may go to any channel of any provider (an OpenAI channel included: it gets the
//! conversation as `input`, not an id only the first channel's account knows).

use oblivious_core::{ApiError, ErrorKind};
use oblivious_store::{Store, StoredResponse};
use serde_json::{Map, Value, json};

use crate::dialect::responses::{input_items, item_id};
use oblivious_runtime::auth::Principal;

/// Whose responses these are: the account, else the key; the bootstrap key has its own space.
pub fn owner_of(principal: &Principal) -> String {
    match (principal.user_id, principal.key_id) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(key)) => format!("key:{key}"),
        (None, None) => "bootstrap".to_string(),
    }
}

/// Keeps one answer once it is complete, if the client asked for it to be stored.
pub struct ResponseKeeper {
    store: Store,
    owner: String,
    previous_response_id: Option<String>,
    /// The input items this request added, each with an id.
    input: Vec<Value>,
}

impl ResponseKeeper {
    /// Stores `response` (the object the client received). A failure is logged, not returned: the
    /// client already has its answer, and only a later read or continuation will miss it.
    pub async fn keep(&self, response: &Value) {
        let Some(id) = response.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) else {
            tracing::warn!("a Responses answer without an id was not stored");
            return;
        };
        let stored = StoredResponse {
            id: id.to_string(),
            owner: self.owner.clone(),
            previous_response_id: self.previous_response_id.clone(),
            input: Value::Array(self.input.clone()).to_string(),
            response: response.to_string(),
            created_at: oblivious_store::now_ms(),
        };
        if let Err(error) = self.store.insert_response(&stored).await {
            tracing::warn!(%error, response_id = id, "could not store a Responses answer");
        }
    }
}

/// Resolves a Responses body before it is parsed: `previous_response_id` becomes the
/// conversation it names, prepended to `input` (the id stays in the body for the answer to echo;
/// no upstream gets it). Returns the keeper of the answer when the client asked to store it.
pub async fn prepare(
    store: &Store,
    principal: &Principal,
    body: &mut Map<String, Value>,
) -> Result<Option<ResponseKeeper>, ApiError> {
    let owner = owner_of(principal);
    let own_input = input_items(body)?;
    let previous = body.get("previous_response_id").and_then(Value::as_str).map(str::to_string);
    if let Some(previous) = &previous {
        // OpenAI answers an unknown id with a 400 naming the field, not a 404.
        let chain = store.response_chain(&owner, previous).await.map_err(unavailable)?.ok_or_else(|| {
            let message = format!("Previous response with id '{previous}' not found.");
            ApiError { param: Some("previous_response_id".into()), ..ApiError::invalid_request(message) }
                .with_code("previous_response_not_found")
        })?;
        let mut input = conversation(&chain);
        input.extend(own_input.iter().cloned());
        body.insert("input".into(), Value::Array(input));
    }
    let store_it = body.get("store").and_then(Value::as_bool) != Some(false);
    Ok(store_it.then(|| ResponseKeeper {
        store: store.clone(),
        owner,
        previous_response_id: previous,
        input: with_ids(own_input),
    }))
}

/// The items of a stored conversation, oldest first: each response's input, then its output.
pub fn conversation(chain: &[StoredResponse]) -> Vec<Value> {
    let mut items = Vec::new();
    for stored in chain {
        if let Ok(Value::Array(input)) = serde_json::from_str(&stored.input) {
            items.extend(input);
        }
        if let Ok(response) = serde_json::from_str::<Value>(&stored.response)
            && let Some(Value::Array(output)) = response.get("output")
        {
            items.extend(output.iter().cloned());
        }
    }
    items
}

/// Input items with an id each, as `input_items` lists them (`msg_`, `fc_`, ... by type).
fn with_ids(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|mut item| {
            if let Some(object) = item.as_object_mut()
                && !object.contains_key("id")
            {
                let prefix = match object.get("type").and_then(Value::as_str) {
                    Some("function_call") => "fc",
                    Some("function_call_output") => "fco",
                    Some("custom_tool_call") => "ctc",
                    Some("custom_tool_call_output") => "ctco",
                    Some("reasoning") => "rs",
                    _ => "msg",
                };
                object.insert("id".into(), json!(item_id(prefix)));
                object.entry("type").or_insert_with(|| json!("message"));
            }
            item
        })
        .collect()
}

pub fn unavailable(error: oblivious_store::StoreError) -> ApiError {
    tracing::error!(%error, "response store unreachable");
    ApiError::new(ErrorKind::Unavailable, "Stored responses are unavailable right now; try again shortly.")
}
