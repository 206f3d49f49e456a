//! Times in requests: RFC 3339 strings or milliseconds since the epoch.

use serde::Deserialize;

/// A time as a client may send it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeInput {
    Millis(i64),
    Text(String),
}

impl TimeInput {
    pub fn to_ms(&self) -> Result<i64, String> {
        match self {
            TimeInput::Millis(ms) => Ok(*ms),
            TimeInput::Text(text) => parse_time_ms(text),
        }
    }
}

/// `2026-11-01T00:00:00Z` or `1793491200000`.
pub fn parse_time_ms(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return Ok(ms);
    }
    let time = humantime::parse_rfc3339(text.trim())
        .map_err(|_| format!("`{text}` is not an RFC 3339 UTC time or milliseconds"))?;
    let since = time.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("`{text}` is before 1970"))?;
    i64::try_from(since.as_millis()).map_err(|_| format!("`{text}` is too far away"))
}
