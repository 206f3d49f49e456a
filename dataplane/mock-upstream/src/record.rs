//! What the mock received, for tests to assert on (`GET /_mock/requests`). Recording is off in
//! benchmarks, where the lock would be pure overhead.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use serde_json::{Value, json};

/// Received requests, oldest first; disabled unless `enabled`.
#[derive(Clone, Default)]
pub struct Recorder {
    enabled: bool,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Recorder {
    pub fn new(enabled: bool) -> Self {
        Recorder { enabled, requests: Arc::default() }
    }

    pub fn record(&self, method: &str, path: &str, query: Option<&str>, headers: &HeaderMap, body: &[u8]) {
        if !self.enabled {
            return;
        }
        let headers: BTreeMap<String, String> = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let entry = json!({"method": method, "path": path, "query": query, "headers": headers, "body": body});
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
    }

    pub fn all(&self) -> Vec<Value> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
