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
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
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
            "schemas": {"Error": error_schema()}
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
