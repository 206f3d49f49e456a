//! Webhooks and their outbox on both backends: an event is queued once per matching hook (its
//! user's and the platform's, never another user's), claims are exclusive and fenced, replays
//! allow one more attempt with the same event id.

use oblivious_store::{AttemptOutcome, Replay, Store, WebhookEvent, WebhookOwner, WebhookRecord, WebhookUpdate};
use uuid::Uuid;

use super::new_user;

oblivious_store::both_backends!(
    hooks_belong_to_their_owner_and_platform_hooks_to_nobody,
    an_event_is_queued_once_for_each_matching_hook_and_never_for_another_users,
    a_claim_is_exclusive_and_a_lost_claim_cannot_write,
    retries_wait_for_their_time_and_replays_allow_one_more_attempt,
    disabled_hooks_get_nothing_new_and_hold_their_pending_deliveries,
);

const NOW: i64 = 1_795_428_000_000;

fn hook(user_id: Option<Uuid>, types: &[&str]) -> WebhookRecord {
    WebhookRecord {
        id: Uuid::now_v7(),
        user_id,
        url: "https://hooks.example.com/in".into(),
        secret: "whsec_dGVzdA==".into(),
        event_types: types.iter().map(|t| t.to_string()).collect(),
        description: String::new(),
        enabled: true,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn event(event_type: &str, user_id: Option<Uuid>) -> WebhookEvent {
    let id = Uuid::now_v7();
    WebhookEvent {
        id,
        event_type: event_type.into(),
        user_id,
        payload: format!(r#"{{"id":"{id}","type":"{event_type}"}}"#),
        created_at: NOW,
        max_attempts: 3,
    }
}

async fn hooks_belong_to_their_owner_and_platform_hooks_to_nobody(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let mine = hook(Some(alice), &["key.created"]);
    let platform = hook(None, &["key.created"]);
    store.create_webhook(&mine).await.unwrap();
    store.create_webhook(&platform).await.unwrap();
    let alices = WebhookOwner::User(alice);
    assert_eq!(store.webhooks(alices).await.unwrap(), vec![mine.clone()]);
    assert_eq!(store.webhooks(WebhookOwner::Platform).await.unwrap(), vec![platform.clone()]);
    assert!(store.webhooks(WebhookOwner::User(bob)).await.unwrap().is_empty());
    assert!(store.webhook(WebhookOwner::User(bob), mine.id).await.unwrap().is_none(), "not bob's");
    assert!(store.webhook(WebhookOwner::Platform, mine.id).await.unwrap().is_none(), "not the platform's");
    assert!(store.webhook(alices, platform.id).await.unwrap().is_none());

    let update =
        WebhookUpdate { enabled: Some(false), event_types: Some(vec!["file.indexed".into()]), ..Default::default() };
    assert!(store.update_webhook(WebhookOwner::User(bob), mine.id, &update, NOW + 1).await.unwrap().is_none());
    let changed = store.update_webhook(alices, mine.id, &update, NOW + 1).await.unwrap().unwrap();
    assert_eq!(
        (changed.enabled, changed.event_types.clone(), changed.url.clone()),
        (false, vec!["file.indexed".to_string()], mine.url.clone())
    );
    assert_eq!(changed.updated_at, NOW + 1);
    assert!(format!("{changed:?}").contains("<redacted>") && !format!("{changed:?}").contains("whsec_"));

    assert!(!store.delete_webhook(WebhookOwner::User(bob), mine.id).await.unwrap());
    assert!(!store.delete_webhook(WebhookOwner::Platform, mine.id).await.unwrap());
    assert!(store.delete_webhook(alices, mine.id).await.unwrap());
    assert!(store.webhook_by_id(mine.id).await.unwrap().is_none());
    assert!(store.delete_webhook(WebhookOwner::Platform, platform.id).await.unwrap());
}

async fn an_event_is_queued_once_for_each_matching_hook_and_never_for_another_users(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let bob = new_user(&store, "bob", 0).await.id;
    let alices = hook(Some(alice), &["key.created", "key.revoked"]);
    let alices_other = hook(Some(alice), &["file.indexed"]);
    let bobs = hook(Some(bob), &["key.created"]);
    let platform = hook(None, &["key.created"]);
    for h in [&alices, &alices_other, &bobs, &platform] {
        store.create_webhook(h).await.unwrap();
    }
    let created = event("key.created", Some(alice));
    assert_eq!(store.enqueue_webhook_event(&created).await.unwrap(), 2, "alice's hook and the platform's");
    assert_eq!(store.enqueue_webhook_event(&created).await.unwrap(), 0, "the same event id queues nothing twice");
    assert_eq!(store.enqueue_webhook_event(&event("balance.low", Some(alice))).await.unwrap(), 0, "no subscriber");

    assert_eq!(store.webhook_deliveries(bobs.id, 10, None).await.unwrap(), vec![], "never another user's event");
    assert!(store.webhook_deliveries(alices_other.id, 10, None).await.unwrap().is_empty());
    let [delivery] = store.webhook_deliveries(alices.id, 10, None).await.unwrap().try_into().unwrap();
    assert_eq!((delivery.event_id, delivery.status.as_str(), delivery.attempts), (created.id, "pending", 0));
    assert_eq!(
        (delivery.payload.as_str(), delivery.user_id, delivery.max_attempts),
        (created.payload.as_str(), Some(alice), 3)
    );
    assert_eq!(store.webhook_deliveries(platform.id, 10, None).await.unwrap()[0].event_id, created.id);

    // A ping goes to exactly the hook named, whatever it subscribes to.
    assert!(store.enqueue_webhook_delivery(alices_other.id, &event("ping", Some(alice))).await.unwrap());
    assert!(!store.enqueue_webhook_delivery(Uuid::now_v7(), &event("ping", None)).await.unwrap());
    assert_eq!(store.webhook_deliveries(alices_other.id, 10, None).await.unwrap().len(), 1);
    // Pages are newest first, by keyset.
    let second = event("key.revoked", Some(alice));
    store.enqueue_webhook_event(&second).await.unwrap();
    let page = store.webhook_deliveries(alices.id, 1, None).await.unwrap();
    assert_eq!(page[0].event_id, second.id);
    let next = store.webhook_deliveries(alices.id, 10, Some(page[0].id)).await.unwrap();
    assert_eq!(next.iter().map(|d| d.event_id).collect::<Vec<_>>(), vec![created.id]);
}

async fn a_claim_is_exclusive_and_a_lost_claim_cannot_write(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let mine = hook(Some(alice), &["key.created"]);
    store.create_webhook(&mine).await.unwrap();
    for _ in 0..5 {
        store.enqueue_webhook_event(&event("key.created", Some(alice))).await.unwrap();
    }
    let (a, b) = tokio::join!(
        store.claim_webhook_deliveries(NOW, NOW + 1000, 3),
        store.claim_webhook_deliveries(NOW, NOW + 1000, 3)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 5, "every due delivery claimed once: {} + {}", a.len(), b.len());
    assert!(a.iter().all(|x| b.iter().all(|y| x.id != y.id)), "no delivery claimed twice");
    let claimed = &a.first().or(b.first()).unwrap().clone();
    assert_eq!((claimed.attempts, claimed.url.as_str(), claimed.owner_id), (1, mine.url.as_str(), Some(alice)));
    assert!(!format!("{claimed:?}").contains("whsec_"));
    assert!(store.claim_webhook_deliveries(NOW + 999, NOW + 2000, 10).await.unwrap().is_empty(), "leases hold");

    // The lease ran out: another worker claims it (attempt 2); the first one's result is refused.
    let again = store.claim_webhook_deliveries(NOW + 1001, NOW + 5000, 10).await.unwrap();
    assert_eq!(again.len(), 5);
    let retaken = again.iter().find(|d| d.id == claimed.id).unwrap();
    assert_eq!(retaken.attempts, 2);
    let delivered = AttemptOutcome::Delivered { status_code: 204 };
    assert!(!store.record_webhook_attempt(claimed.id, 1, &delivered, NOW + 1002).await.unwrap(), "fenced out");
    assert!(store.record_webhook_attempt(claimed.id, 2, &delivered, NOW + 1003).await.unwrap());
    assert!(!store.record_webhook_attempt(claimed.id, 2, &delivered, NOW + 1004).await.unwrap(), "written once");
    let stored = store.webhook_delivery(claimed.id).await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.attempts, stored.last_status_code), ("delivered", 2, Some(204)));
    assert_eq!((stored.delivered_at, stored.last_error), (Some(NOW + 1003), None));
}

async fn retries_wait_for_their_time_and_replays_allow_one_more_attempt(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let mine = hook(Some(alice), &["key.created"]);
    store.create_webhook(&mine).await.unwrap();
    let queued = event("key.created", Some(alice));
    store.enqueue_webhook_event(&queued).await.unwrap();
    assert_eq!(store.next_webhook_delivery_due().await.unwrap(), Some(NOW));

    let [claim] = store.claim_webhook_deliveries(NOW, NOW + 100, 10).await.unwrap().try_into().unwrap();
    assert_eq!(store.replay_webhook_delivery(claim.id, NOW).await.unwrap(), Replay::NotEnded);
    let retry = AttemptOutcome::Retry { status_code: Some(500), error: "HTTP 500".into(), next_attempt_at: NOW + 50 };
    assert!(store.record_webhook_attempt(claim.id, 1, &retry, NOW + 1).await.unwrap());
    assert_eq!(store.next_webhook_delivery_due().await.unwrap(), Some(NOW + 50));
    assert!(store.claim_webhook_deliveries(NOW + 49, NOW + 200, 10).await.unwrap().is_empty(), "not due yet");
    let [claim] = store.claim_webhook_deliveries(NOW + 50, NOW + 200, 10).await.unwrap().try_into().unwrap();
    assert_eq!(claim.attempts, 2);
    let failed = AttemptOutcome::Failed { status_code: None, error: "timed out".into() };
    assert!(store.record_webhook_attempt(claim.id, 2, &failed, NOW + 60).await.unwrap());
    let stored = store.webhook_delivery(claim.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status.as_str(), stored.last_status_code, stored.last_error.as_deref()),
        ("failed", None, Some("timed out"))
    );
    assert_eq!(store.next_webhook_delivery_due().await.unwrap(), None);

    let Replay::Queued(replayed) = store.replay_webhook_delivery(claim.id, NOW + 70).await.unwrap() else {
        panic!("a failed delivery can be replayed")
    };
    assert_eq!((replayed.status.as_str(), replayed.event_id, replayed.max_attempts), ("pending", queued.id, 3));
    let [claim] = store.claim_webhook_deliveries(NOW + 70, NOW + 300, 10).await.unwrap().try_into().unwrap();
    assert_eq!((claim.attempts, claim.event_id, claim.payload.as_str()), (3, queued.id, queued.payload.as_str()));
    assert_eq!(store.replay_webhook_delivery(Uuid::now_v7(), NOW).await.unwrap(), Replay::NotFound);

    // Ended deliveries are pruned after the retention; others never are.
    assert!(store.record_webhook_attempt(claim.id, 3, &failed, NOW + 80).await.unwrap());
    let pending = event("key.created", Some(alice));
    store.enqueue_webhook_event(&pending).await.unwrap();
    assert_eq!(store.prune_webhook_deliveries(NOW + 80).await.unwrap(), 0);
    assert_eq!(store.prune_webhook_deliveries(NOW + 81).await.unwrap(), 1);
    assert_eq!(store.webhook_deliveries(mine.id, 10, None).await.unwrap()[0].event_id, pending.id);
}

async fn disabled_hooks_get_nothing_new_and_hold_their_pending_deliveries(store: Store) {
    let alice = new_user(&store, "alice", 0).await.id;
    let mine = hook(Some(alice), &["key.created"]);
    store.create_webhook(&mine).await.unwrap();
    store.enqueue_webhook_event(&event("key.created", Some(alice))).await.unwrap();
    let off = WebhookUpdate { enabled: Some(false), ..Default::default() };
    store.update_webhook(WebhookOwner::User(alice), mine.id, &off, NOW).await.unwrap().unwrap();
    assert_eq!(store.enqueue_webhook_event(&event("key.created", Some(alice))).await.unwrap(), 0);
    assert!(store.claim_webhook_deliveries(NOW, NOW + 100, 10).await.unwrap().is_empty());
    assert_eq!(store.next_webhook_delivery_due().await.unwrap(), None, "a disabled hook's delivery is not due");
    let on = WebhookUpdate { enabled: Some(true), ..Default::default() };
    store.update_webhook(WebhookOwner::User(alice), mine.id, &on, NOW).await.unwrap().unwrap();
    assert_eq!(store.claim_webhook_deliveries(NOW, NOW + 100, 10).await.unwrap().len(), 1);
    // Deleting the hook takes its deliveries.
    assert!(store.delete_webhook(WebhookOwner::User(alice), mine.id).await.unwrap());
    assert!(store.webhook_deliveries(mine.id, 10, None).await.unwrap().is_empty());
}
