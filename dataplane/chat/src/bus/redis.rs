//! The Redis bus: one Redis stream per generation (`{prefix}chat:stream:{id}`, entry ids
//! `{event id}-0`), read with `XREAD BLOCK` on a connection per reader. Stops travel as a key
//! (`{prefix}chat:stop:{id}`, for a job that has not started listening yet) plus a pub/sub
//! message that every pod's listener turns into a local stop.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use serde_json::Value;
use uuid::Uuid;

use super::{BusError, FINISHED_RETENTION, UNFINISHED_RETENTION};
use crate::events::{EventKind, StreamEvent};
use crate::running::RunningJobs;

/// Events read per `XREAD`.
const READ_COUNT: usize = 256;
/// After the stop listener's connection fails, wait this long before resubscribing.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

pub struct RedisBus {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
}

impl RedisBus {
    pub async fn connect(url: &str, prefix: &str, jobs: Arc<RunningJobs>) -> Result<Self, BusError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client.clone()).await?;
        let bus = RedisBus { client: client.clone(), connection, prefix: prefix.to_string() };
        tokio::spawn(listen_for_stops(client, bus.stop_channel(), jobs));
        Ok(bus)
    }

    fn stream_key(&self, id: Uuid) -> String {
        format!("{}chat:stream:{id}", self.prefix)
    }

    fn open_key(&self, id: Uuid) -> String {
        format!("{}chat:open:{id}", self.prefix)
    }

    fn stop_key(&self, id: Uuid) -> String {
        format!("{}chat:stop:{id}", self.prefix)
    }

    fn decision_key(&self, id: Uuid, call_id: &str) -> String {
        format!("{}chat:approval:{id}:{call_id}", self.prefix)
    }

    fn stop_channel(&self) -> String {
        format!("{}chat:stop", self.prefix)
    }

    pub async fn open(&self, id: Uuid) -> Result<(), BusError> {
        let mut connection = self.connection.clone();
        let _: () = connection.set_ex(self.open_key(id), 1, UNFINISHED_RETENTION.as_secs()).await?;
        Ok(())
    }

    pub async fn publish(&self, id: Uuid, event: &StreamEvent) -> Result<(), BusError> {
        let key = self.stream_key(id);
        let retention = if event.kind.is_terminal() { FINISHED_RETENTION } else { UNFINISHED_RETENTION };
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(&key)
            .arg(format!("{}-0", event.id))
            .arg("e")
            .arg(event.kind.as_str())
            .arg("d")
            .arg(event.data.to_string())
            .ignore()
            .expire(&key, retention.as_secs() as i64)
            .ignore();
        let _: () = pipe.query_async(&mut self.connection.clone()).await?;
        Ok(())
    }

    pub async fn knows(&self, id: Uuid) -> Result<bool, BusError> {
        let mut connection = self.connection.clone();
        let count: u32 =
            redis::cmd("EXISTS").arg(self.stream_key(id)).arg(self.open_key(id)).query_async(&mut connection).await?;
        Ok(count > 0)
    }

    pub async fn reader(&self, id: Uuid) -> Result<RedisReader, BusError> {
        let connection = self.client.get_multiplexed_async_connection().await?;
        Ok(RedisReader { connection, key: self.stream_key(id) })
    }

    pub async fn request_stop(&self, id: Uuid) -> Result<(), BusError> {
        let mut connection = self.connection.clone();
        let _: () = connection.set_ex(self.stop_key(id), 1, UNFINISHED_RETENTION.as_secs()).await?;
        let _: () = connection.publish(self.stop_channel(), id.to_string()).await?;
        Ok(())
    }

    pub async fn decide_tool_call(&self, id: Uuid, call_id: &str, approve: bool) -> Result<(), BusError> {
        let mut connection = self.connection.clone();
        let value = if approve { "approve" } else { "reject" };
        let _: () = connection.set_ex(self.decision_key(id, call_id), value, UNFINISHED_RETENTION.as_secs()).await?;
        Ok(())
    }

    pub async fn take_tool_call_decision(&self, id: Uuid, call_id: &str) -> Result<Option<bool>, BusError> {
        let mut connection = self.connection.clone();
        let taken: Option<String> =
            redis::cmd("GETDEL").arg(self.decision_key(id, call_id)).query_async(&mut connection).await?;
        Ok(taken.map(|value| value == "approve"))
    }

    pub async fn stop_requested(&self, id: Uuid) -> bool {
        let mut connection = self.connection.clone();
        connection.exists(self.stop_key(id)).await.unwrap_or(false)
    }
}

/// Turns stop messages from any pod into local stops, resubscribing after connection loss.
async fn listen_for_stops(client: redis::Client, channel: String, jobs: Arc<RunningJobs>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(&channel).await {
                    tracing::warn!(%error, "cannot subscribe to chat stops");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload: String = message.get_payload().unwrap_or_default();
                        if let Ok(id) = Uuid::parse_str(&payload) {
                            jobs.stop(id);
                        }
                    }
                    tracing::warn!("chat stop subscription ended; resubscribing");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot connect for chat stops"),
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

pub struct RedisReader {
    connection: MultiplexedConnection,
    key: String,
}

/// `XREAD` reply: streams, each with its entries of (id, [field, value, ...]).
type XreadReply = Option<Vec<(String, Vec<(String, Vec<String>)>)>>;

impl RedisReader {
    pub async fn next_batch(&mut self, after: u64, wait: Duration) -> Result<Vec<StreamEvent>, BusError> {
        let reply: XreadReply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(wait.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(format!("{after}-0"))
            .query_async(&mut self.connection)
            .await?;
        let entries = reply.into_iter().flatten().flat_map(|(_, entries)| entries);
        Ok(entries.filter_map(|(id, fields)| parse_entry(&id, &fields)).collect())
    }
}

fn parse_entry(id: &str, fields: &[String]) -> Option<StreamEvent> {
    let id = id.split_once('-')?.0.parse().ok()?;
    let field = |name: &str| fields.chunks(2).find(|pair| pair[0] == name).and_then(|pair| pair.get(1));
    let kind = EventKind::parse(field("e")?)?;
    let data: Value = serde_json::from_str(field("d")?).ok()?;
    Some(StreamEvent { id, kind, data })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn entries_parse_back_into_events_and_junk_is_skipped() {
        let fields = ["e", "text", "d", "{\"delta\":\"hi\"}"].map(String::from);
        let event = parse_entry("5-0", &fields);
        assert_eq!(event.map(|e| (e.id, e.kind)), Some((5, EventKind::Text)));
        assert!(parse_entry("x", &fields).is_none());
        assert!(parse_entry("5-0", &["e", "nope", "d", "{}"].map(String::from)).is_none());
    }
}
