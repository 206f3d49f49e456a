//! The OpenAI Responses API: `POST /v1/responses` (a chat request like the others, entered
//! through `chat_entry`), and the stored responses it leaves behind: `GET` and `DELETE
//! /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`. A key reads only its owner's
//! responses (`stored_responses::owner_of`); anyone else's id is a 404, as an unknown one is.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oblivious_core::edge::RequestId;
use oblivious_core::{ApiError, Dialect, ErrorKind};
use oblivious_runtime::Principal;
use oblivious_store::StoredResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::KeyCaller;
use super::chat_entry::{ChatEntry, enter_chat};
use crate::dialect::responses;
use crate::ir::ChatRequest;
use crate::state::Relay;
use crate::stored_responses::{self, ResponseKeeper, owner_of, unavailable};

/// Most input items one page lists (OpenAI's limit).
const MAX_PAGE: usize = 100;

pub async fn create(
    State(relay): State<Arc<Relay>>,
    caller: KeyCaller,
    request_id: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    enter_chat(relay, caller, ChatEntry::body_only(Dialect::Responses), request_id, headers, body).await
}

/// Parses a Responses body: its `previous_response_id` resolved into the conversation, and the
/// keeper of its answer when it is to be stored.
pub async fn parse(
    relay: &Relay,
    principal: &Principal,
    bytes: &[u8],
) -> Result<(ChatRequest, Option<ResponseKeeper>), ApiError> {
    let mut body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => body,
        Ok(_) => return Err(ApiError::invalid_request("The request body must be a JSON object.")),
        Err(e) => {
            return Err(ApiError::invalid_request(format!("We could not parse the JSON body of your request: {e}")));
        }
    };
    let keeper = stored_responses::prepare(&relay.runtime.store, principal, &mut body).await?;
    Ok((responses::parse_request(body)?, keeper))
}

pub async fn get(
    State(relay): State<Arc<Relay>>,
    KeyCaller { principal, .. }: KeyCaller,
    Path(id): Path<String>,
) -> Response {
    match find(&relay, &principal, &id).await {
        Ok(stored) => json_text(&stored.response),
        Err(error) => error.into_response_for(Dialect::Responses),
    }
}

pub async fn delete(
    State(relay): State<Arc<Relay>>,
    KeyCaller { principal, .. }: KeyCaller,
    Path(id): Path<String>,
) -> Response {
    match relay.runtime.store.delete_response(&owner_of(&principal), &id).await {
        Ok(true) => Json(json!({"id": id, "object": "response.deleted", "deleted": true})).into_response(),
        Ok(false) => not_found(&id).into_response_for(Dialect::Responses),
        Err(error) => unavailable(error).into_response_for(Dialect::Responses),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    order: Option<String>,
    after: Option<String>,
}

/// The input the model saw for response `id` (the conversation before it, then its own input),
/// paged like OpenAI's lists: newest first unless `order=asc`.
pub async fn input_items(
    State(relay): State<Arc<Relay>>,
    KeyCaller { principal, .. }: KeyCaller,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let chain = match relay.runtime.store.response_chain(&owner_of(&principal), &id).await {
        Ok(Some(chain)) => chain,
        Ok(None) => return not_found(&id).into_response_for(Dialect::Responses),
        Err(error) => return unavailable(error).into_response_for(Dialect::Responses),
    };
    let Some((last, earlier)) = chain.split_last() else {
        return not_found(&id).into_response_for(Dialect::Responses);
    };
    let mut items = stored_responses::conversation(earlier);
    if let Ok(Value::Array(own)) = serde_json::from_str(&last.input) {
        items.extend(own);
    }
    match page(items, &query) {
        Ok(list) => Json(list).into_response(),
        Err(error) => error.into_response_for(Dialect::Responses),
    }
}

fn page(mut items: Vec<Value>, query: &ListQuery) -> Result<Value, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    match query.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(other) => return Err(ApiError::invalid_field("order", format!("must be 'asc' or 'desc', got '{other}'"))),
    }
    if let Some(after) = &query.after {
        let position = items.iter().position(|item| item.get("id").and_then(Value::as_str) == Some(after.as_str()));
        let Some(position) = position else {
            return Err(ApiError::invalid_field("after", format!("no input item with id '{after}'")));
        };
        items.drain(..=position);
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    let id_of = |item: Option<&Value>| item.and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "object": "list",
        "first_id": id_of(items.first()),
        "last_id": id_of(items.last()),
        "has_more": has_more,
        "data": items,
    }))
}

async fn find(relay: &Relay, principal: &Principal, id: &str) -> Result<StoredResponse, ApiError> {
    match relay.runtime.store.response(&owner_of(principal), id).await {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(not_found(id)),
        Err(error) => Err(unavailable(error)),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError {
        param: Some("response_id".into()),
        ..ApiError::new(ErrorKind::NotFound, format!("Response with id '{id}' not found."))
    }
}

/// A stored JSON document as a response, as it was stored.
fn json_text(text: &str) -> Response {
    let mut response = text.to_string().into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"id": format!("msg_{i}")})).collect()
    }

    fn ids(list: &Value) -> Vec<&str> {
        list["data"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect()
    }

    #[test]
    fn input_items_page_newest_first_with_a_cursor() {
        let query = |limit, order: Option<&str>, after: Option<&str>| ListQuery {
            limit,
            order: order.map(str::to_string),
            after: after.map(str::to_string),
        };
        let first = page(items(5), &query(Some(2), None, None)).unwrap();
        assert_eq!((ids(&first), first["has_more"].as_bool()), (vec!["msg_4", "msg_3"], Some(true)));
        let next = page(items(5), &query(Some(2), None, Some("msg_3"))).unwrap();
        assert_eq!(ids(&next), ["msg_2", "msg_1"]);
        let ascending = page(items(3), &query(None, Some("asc"), None)).unwrap();
        assert_eq!((ids(&ascending), ascending["has_more"].as_bool()), (vec!["msg_0", "msg_1", "msg_2"], Some(false)));
        assert!(page(items(1), &query(Some(0), None, None)).is_err());
        assert!(page(items(1), &query(None, Some("up"), None)).is_err());
    }
}
