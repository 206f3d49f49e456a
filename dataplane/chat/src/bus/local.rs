//! The in-process bus: each stream's events in memory, readers woken by a `Notify`. Finished
//! streams are dropped `FINISHED_RETENTION` after their last event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use uuid::Uuid;

use super::FINISHED_RETENTION;
use crate::events::StreamEvent;

#[derive(Default)]
struct Buffer {
    events: Vec<StreamEvent>,
    finished_at: Option<Instant>,
}

#[derive(Default)]
struct LocalStream {
    buffer: Mutex<Buffer>,
    changed: Notify,
}

#[derive(Default)]
pub struct LocalBus {
    streams: Mutex<HashMap<Uuid, Arc<LocalStream>>>,
    /// Users' decisions on tool calls awaiting approval, until their job takes them.
    decisions: Mutex<HashMap<(Uuid, String), bool>>,
}

impl LocalBus {
    fn stream(&self, id: Uuid) -> Arc<LocalStream> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).entry(id).or_default().clone()
    }

    pub fn open(&self, id: Uuid) {
        self.stream(id);
    }

    pub fn publish(&self, id: Uuid, event: StreamEvent) {
        let stream = self.stream(id);
        let terminal = event.kind.is_terminal();
        {
            let mut buffer = stream.buffer.lock().unwrap_or_else(|p| p.into_inner());
            buffer.events.push(event);
            if terminal {
                buffer.finished_at = Some(Instant::now());
            }
        }
        stream.changed.notify_waiters();
        if terminal {
            self.drop_expired();
        }
    }

    pub fn decide_tool_call(&self, id: Uuid, call_id: &str, approve: bool) {
        self.decisions.lock().unwrap_or_else(|p| p.into_inner()).insert((id, call_id.to_string()), approve);
    }

    pub fn take_tool_call_decision(&self, id: Uuid, call_id: &str) -> Option<bool> {
        self.decisions.lock().unwrap_or_else(|p| p.into_inner()).remove(&(id, call_id.to_string()))
    }

    pub fn knows(&self, id: Uuid) -> bool {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&id)
    }

    pub fn reader(&self, id: Uuid) -> LocalReader {
        LocalReader { stream: self.stream(id) }
    }

    fn drop_expired(&self) {
        let now = Instant::now();
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, stream| {
            let buffer = stream.buffer.lock().unwrap_or_else(|p| p.into_inner());
            buffer.finished_at.is_none_or(|at| now.duration_since(at) < FINISHED_RETENTION)
        });
    }
}

pub struct LocalReader {
    stream: Arc<LocalStream>,
}

impl LocalReader {
    pub async fn next_batch(&mut self, after: u64, wait: Duration) -> Vec<StreamEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so an event published in between still wakes us.
            let notified = self.stream.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch: Vec<StreamEvent> = {
                let buffer = self.stream.buffer.lock().unwrap_or_else(|p| p.into_inner());
                buffer.events.iter().filter(|e| e.id > after).cloned().collect()
            };
            if !batch.is_empty() {
                return batch;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::events::EventKind;
    use serde_json::json;

    fn event(id: u64, kind: EventKind) -> StreamEvent {
        StreamEvent { id, kind, data: json!({"delta": id.to_string()}) }
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_publish_and_resumes_after_an_id() {
        let bus = Arc::new(LocalBus::default());
        let id = Uuid::now_v7();
        bus.open(id);
        let mut reader = bus.reader(id);
        let publisher = bus.clone();
        let waiting = tokio::spawn(async move { reader.next_batch(0, Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        publisher.publish(id, event(1, EventKind::Text));
        assert_eq!(waiting.await.unwrap(), vec![event(1, EventKind::Text)]);

        bus.publish(id, event(2, EventKind::Text));
        bus.publish(id, event(3, EventKind::Done));
        let mut late = bus.reader(id);
        let resumed = late.next_batch(1, Duration::from_millis(10)).await;
        assert_eq!(resumed.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
        assert!(late.next_batch(3, Duration::from_millis(10)).await.is_empty(), "nothing after the end");
    }

    #[test]
    fn unknown_streams_are_not_known_until_opened() {
        let bus = LocalBus::default();
        let id = Uuid::now_v7();
        assert!(!bus.knows(id));
        bus.open(id);
        assert!(bus.knows(id));
    }
}
