//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the product API, built from the same
//! route table the router is built from (`crate::ROUTES`), so a route cannot exist undocumented.
//! Other services mounted beside the gateway (chat) add their own route tables.

use serde_json::{Map, Value, json};

/// Documentation of one route.
#[derive(Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// `none`, `user` (access token or user API key) or `admin`.
    pub auth: &'static str,
    /// Request body schema, if any.
    pub body: Option<fn() -> Value>,
    /// Success status.
    pub status: u16,
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "Stable machine-readable code: invalid_request, unauthenticated, forbidden, not_found, conflict, rate_limited, invalid_code, store_unavailable"},
            "message": {"type": "string"}
        }}}
    })
}

/// The document of `routes`.
pub fn document(routes: &[RouteDoc]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let entry = paths.entry(openapi_path(route.path)).or_insert_with(|| json!({}));
        let mut operation = json!({
            "summary": route.summary,
            "responses": {
                route.status.to_string(): {"description": "Success"},
                "default": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut parameters = parameters;
        parameters.extend(query_parameters(route.path));
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(schema) = response_schema(route.path) {
            operation["responses"][route.status.to_string()]["content"] =
                json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        }
        match route.auth {
            "none" => operation["security"] = json!([]),
            "admin" => {
                operation["description"] =
                    json!("Administrators only: an admin user's access token or an admin API key.")
            }
            _ => {}
        }
        if let Some(body) = route.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body()}}});
        }
        entry[route.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Oblivious product API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Accounts, keys, balances, administration and chat. Money is a decimal string in the price list's currency."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An access token from /api/v1/auth/login, or an API key"}},
            "schemas": {
                "Error": error_schema(),
                "SeriesPoint": series_point_schema(),
                "Series": series_schema(),
                "UsageSeries": usage_series_schema(),
                "ChannelHealth": channel_health_schema(),
            }
        }
    })
}

/// axum's `{id}` is OpenAPI's `{id}` too; kept as a function in case the syntaxes diverge.
fn openapi_path(path: &str) -> String {
    path.to_string()
}

/// A JSON Schema object with the given required and optional string-ish properties.
pub fn object(required: &[(&str, &str)], optional: &[(&str, &str)]) -> Value {
    let mut properties = Map::new();
    for (name, kind) in required.iter().chain(optional) {
        properties.insert((*name).to_string(), json!({"type": kind}));
    }
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "properties": properties,
    })
}

/// A query parameter of type string, optionally one of `values`.
fn query(name: &str, description: &str, values: &[&str]) -> Value {
    let mut schema = json!({"type": "string"});
    if !values.is_empty() {
        schema["enum"] = json!(values);
    }
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// Query parameters of the routes that take them (a bad value is a 400 naming it).
fn query_parameters(path: &str) -> Vec<Value> {
    let time = "Milliseconds since the epoch or RFC 3339";
    match path {
        "/api/v1/admin/series" => vec![
            query("from", &format!("Start of the range (default: 30 days before `to`); {time}"), &[]),
            query(
                "to",
                &format!("End of the range, exclusive (default: now); {time}. At most 90 days after `from`"),
                &[],
            ),
            query(
                "step",
                "Bucket size (default: hour up to two days, day beyond); at most 200 buckets",
                &["hour", "day"],
            ),
            query(
                "split",
                "One series per model, channel, user or lane (default: only the total)",
                &["model", "channel", "user", "lane"],
            ),
            json!({"name": "top", "in": "query", "required": false,
                   "description": "Series kept apart when split, by requests; the rest are folded into one `other` series",
                   "schema": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5}}),
        ],
        _ => Vec::new(),
    }
}

/// The component schema of a route's success body, where one is documented.
fn response_schema(path: &str) -> Option<&'static str> {
    match path {
        "/api/v1/admin/series" => Some("UsageSeries"),
        "/api/v1/admin/channels/health" => Some("ChannelHealth"),
        _ => None,
    }
}

fn nullable_integer(description: &str) -> Value {
    json!({"type": ["integer", "null"], "description": description})
}

fn series_point_schema() -> Value {
    json!({
        "type": "object",
        "required": ["requests", "errors", "cancelled", "input_tokens", "output_tokens", "cost",
                     "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms"],
        "properties": {
            "requests": {"type": "integer"},
            "errors": {"type": "integer", "description": "Status 400 and up, except 499"},
            "cancelled": {"type": "integer", "description": "Status 499: the client went away"},
            "input_tokens": {"type": "integer"},
            "output_tokens": {"type": "integer"},
            "cost": {"type": "string", "description": "Decimal, in `currency`"},
            "latency_p50_ms": nullable_integer("Nearest-rank percentile over answered requests (status below 400)"),
            "latency_p95_ms": nullable_integer("Nearest-rank percentile over answered requests"),
            "latency_p99_ms": nullable_integer("Nearest-rank percentile over answered requests"),
            "ttft_p50_ms": nullable_integer("Median time to the first token of answered streams"),
        }
    })
}

fn series_schema() -> Value {
    json!({
        "type": "object",
        "required": ["key", "name", "other", "requests", "points"],
        "properties": {
            "key": {"type": ["string", "null"], "description": "Model, channel, user id or lane (`baseline` outside every lane); null for requests without one and for `other`"},
            "name": {"type": ["string", "null"], "description": "The username, in a split by user"},
            "other": {"type": "boolean", "description": "Folds every key beyond `top`"},
            "requests": {"type": "integer"},
            "points": {"type": "array", "items": {"$ref": "#/components/schemas/SeriesPoint"}, "description": "One per bucket"},
        }
    })
}

fn usage_series_schema() -> Value {
    json!({
        "type": "object",
        "required": ["from", "to", "step", "step_ms", "split", "currency", "buckets", "summary", "total", "series"],
        "properties": {
            "from": {"type": "integer", "description": "Start of the first bucket (ms; the asked range widened to whole UTC hours or days)"},
            "to": {"type": "integer", "description": "End of the last bucket (ms, exclusive)"},
            "step": {"type": "string", "enum": ["hour", "day"]},
            "step_ms": {"type": "integer"},
            "split": {"type": ["string", "null"], "enum": ["model", "channel", "user", "lane", null]},
            "currency": {"type": "string"},
            "buckets": {"type": "array", "items": {"type": "integer"}, "description": "Start of each bucket (ms)"},
            "summary": {"$ref": "#/components/schemas/SeriesPoint", "description": "The whole range as one bucket"},
            "total": {"$ref": "#/components/schemas/Series"},
            "series": {"type": "array", "items": {"$ref": "#/components/schemas/Series"}, "description": "Empty without `split`"},
        }
    })
}

fn channel_health_schema() -> Value {
    let window = json!({
        "type": "object",
        "required": ["requests", "errors", "cancelled", "success_rate", "latency_p50_ms", "latency_p99_ms"],
        "properties": {
            "requests": {"type": "integer"},
            "errors": {"type": "integer"},
            "cancelled": {"type": "integer"},
            "success_rate": {"type": ["number", "null"], "description": "Answered over requests not cancelled by their client, 0 to 1"},
            "latency_p50_ms": nullable_integer("Over answered requests"),
            "latency_p99_ms": nullable_integer("Over answered requests"),
        }
    });
    json!({
        "type": "object",
        "required": ["now", "windows_ms", "data"],
        "properties": {
            "now": {"type": "integer"},
            "windows_ms": {"type": "object"},
            "data": {"type": "array", "items": {
                "type": "object",
                "required": ["channel", "last_15m", "last_24h", "last_error"],
                "properties": {
                    "channel": {"type": "string"},
                    "last_15m": window.clone(),
                    "last_24h": window,
                    "last_error": {"type": ["object", "null"], "properties": {
                        "at": {"type": "integer"}, "status": {"type": "integer"}, "error_class": {"type": ["string", "null"]}
                    }},
                }
            }},
        }
    })
}
