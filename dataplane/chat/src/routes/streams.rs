//! `GET /chat/streams/{id}` (SSE, resumable with `Last-Event-ID`, any number of readers) and
//! `POST /chat/streams/{id}/stop`.
//!
//! A reader follows the bus while the reply is being generated. Whenever the bus is quiet it
//! pings and looks at the stored row: a reply that ended without the bus saying so (its job's
//! process died, Redis lost the stream) is then finished from the row, so no reader waits
//! forever. A reply that ended long ago is replayed from the row.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oblivious_gateway::{ApiResult, ProductError, UserIdentity};
use oblivious_store::chat::{ChatMessage, STATUS_STREAMING};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::Chat;
use crate::events::{EventKind, PING, StreamEvent};
use crate::views::message_view;

/// A quiet stream is pinged (and the stored row looked at) this often.
const PING_EVERY: Duration = Duration::from_secs(15);
/// While the bus is unreachable, the stored row is polled this often instead.
const POLL_WITHOUT_BUS: Duration = Duration::from_secs(1);

pub async fn read(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let message = chat.store().get_chat_message(user.id, id).await?.filter(|m| m.role == "assistant");
    let message = message.ok_or_else(|| ProductError::not_found("stream"))?;
    let after = last_event_id(&headers, &query)?;
    let (frames, body) = mpsc::channel::<Bytes>(64);
    tokio::spawn(follow(chat, message, after, frames));
    let stream = ReceiverStream::new(body).map(Ok::<Bytes, Infallible>);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Reverse proxies (nginx) must not buffer an event stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

pub async fn stop(
    State(chat): State<Arc<Chat>>,
    UserIdentity { user, .. }: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let message = chat.store().get_chat_message(user.id, id).await?.filter(|m| m.role == "assistant");
    let message = message.ok_or_else(|| ProductError::not_found("stream"))?;
    if message.status == STATUS_STREAMING
        && let Err(error) = chat.bus.request_stop(id).await
    {
        tracing::warn!(%error, "cannot deliver a stop to other pods");
        return Err(ProductError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "bus_unavailable",
            "Could not stop the reply; retry.",
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// `Last-Event-ID` (what browsers send on reconnect) or `?last_event_id=`; 0 = from the start.
fn last_event_id(headers: &HeaderMap, query: &HashMap<String, String>) -> ApiResult<u64> {
    let header = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    match header.or(query.get("last_event_id").map(String::as_str)).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(text) => text.parse().map_err(|_| ProductError::invalid("Last-Event-ID", "not an event id")),
    }
}

/// Sends the stream's frames until its end or until the reader goes away.
async fn follow(chat: Arc<Chat>, message: ChatMessage, mut after: u64, frames: mpsc::Sender<Bytes>) {
    let on_bus = chat.bus.knows(message.id).await.unwrap_or(false);
    if !on_bus && message.status != STATUS_STREAMING {
        replay_stored(&message, after, &frames).await;
        return;
    }
    let mut reader = chat.bus.reader(message.id).await.ok();
    loop {
        let batch = match reader.as_mut() {
            Some(reader) => reader.next_batch(after, PING_EVERY).await,
            None => Err(crate::bus::BusError("no reader".into())),
        };
        match batch {
            Ok(batch) if !batch.is_empty() => {
                for event in batch {
                    after = event.id;
                    if frames.send(event.to_sse()).await.is_err() || event.kind.is_terminal() {
                        return;
                    }
                }
                continue;
            }
            Ok(_) => {
                if frames.send(Bytes::from_static(PING)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "chat stream reader without the bus; polling the stored reply");
                tokio::time::sleep(POLL_WITHOUT_BUS).await;
                if frames.is_closed() {
                    return;
                }
                reader = chat.bus.reader(message.id).await.ok();
            }
        }
        match chat.store().get_chat_message(message.user_id, message.id).await {
            Ok(Some(stored)) if stored.status != STATUS_STREAMING => {
                replay_stored(&stored, after, &frames).await;
                return;
            }
            Ok(None) => return,
            _ => {}
        }
    }
}

/// A finished reply from its row: the whole text (unless the reader has seen part of the
/// stream already: then only the end, whose message is authoritative), then `done` or `error`.
async fn replay_stored(message: &ChatMessage, after: u64, frames: &mpsc::Sender<Bytes>) {
    for event in stored_events(message, after) {
        if frames.send(event.to_sse()).await.is_err() {
            return;
        }
    }
}

fn stored_events(message: &ChatMessage, after: u64) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    let mut next = after;
    let mut push = |kind, data| {
        next += 1;
        events.push(StreamEvent { id: next, kind, data });
    };
    let view = message_view(message, None);
    if after == 0 {
        if !message.reasoning.is_empty() {
            push(EventKind::Reasoning, json!({"delta": message.reasoning}));
        }
        if !message.content.is_empty() {
            push(EventKind::Text, json!({"delta": message.content}));
        }
        if !view["usage"].is_null() {
            push(EventKind::Usage, json!({"usage": view["usage"], "cost": view["cost"], "currency": view["currency"]}));
        }
    }
    match message.status.as_str() {
        "error" => push(
            EventKind::Error,
            json!({"code": message.error_code, "message": message.error_message, "message_record": view}),
        ),
        _ => push(EventKind::Done, json!({"message": view})),
    }
    events
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::message;

    #[test]
    fn a_finished_reply_replays_whole_from_the_start_and_only_its_end_after_an_id() {
        let mut reply = message("assistant", "Hello there", "complete");
        reply.reasoning = "thinking".into();
        reply.output_tokens = Some(2);
        let from_start = stored_events(&reply, 0);
        let kinds: Vec<_> = from_start.iter().map(|e| (e.id, e.kind)).collect();
        assert_eq!(
            kinds,
            [(1, EventKind::Reasoning), (2, EventKind::Text), (3, EventKind::Usage), (4, EventKind::Done)]
        );
        assert_eq!(from_start[1].data["delta"], "Hello there");
        let resumed = stored_events(&reply, 40);
        assert_eq!(resumed.iter().map(|e| (e.id, e.kind)).collect::<Vec<_>>(), [(41, EventKind::Done)]);
        assert_eq!(resumed[0].data["message"]["content"], "Hello there");
    }

    #[test]
    fn a_failed_reply_ends_with_its_error() {
        let mut reply = message("assistant", "", "error");
        reply.error_code = Some("insufficient_quota".into());
        let events = stored_events(&reply, 0);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].kind, events[0].data["code"].clone()), (EventKind::Error, json!("insufficient_quota")));
    }

    #[test]
    fn the_last_event_id_comes_from_the_header_or_the_query() {
        let mut headers = HeaderMap::new();
        let mut query = HashMap::new();
        assert_eq!(last_event_id(&headers, &query).ok(), Some(0));
        query.insert("last_event_id".to_string(), "4".to_string());
        assert_eq!(last_event_id(&headers, &query).ok(), Some(4));
        headers.insert("last-event-id", HeaderValue::from_static("9"));
        assert_eq!(last_event_id(&headers, &query).ok(), Some(9), "the header wins");
        headers.insert("last-event-id", HeaderValue::from_static("x"));
        assert!(last_event_id(&headers, &query).is_err());
    }
}
