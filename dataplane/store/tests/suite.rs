//! One test suite, run against both backends (DESIGN rule 3). Each case is an `async fn(Store)`;
//! `both_backends!` turns it into a SQLite test and a PostgreSQL test on a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oblivious_store::testing::TestDatabase;
use oblivious_store::{NewApiKey, RequestLog, RequestLogFilter, Store, StoreKind};
use uuid::Uuid;

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = oblivious_store::Store::open_sqlite(dir.path()).await.unwrap();
                store.migrate().await.unwrap();
                super::$case(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = oblivious_store::testing::TestDatabase::create().await.unwrap() else {
                    eprintln!("skipped: {} is not set", oblivious_store::testing::TEST_DATABASE_URL);
                    return;
                };
                let store = db.store().await.unwrap();
                super::$case(store.clone()).await;
                store.close().await;
                db.drop_database().await.unwrap();
            }
        }
    )*};
}

both_backends!(
    keys_are_found_by_secret_until_revoked_or_expired,
    keys_keep_their_models_group_and_owner,
    revoking_an_unknown_prefix_changes_nothing_and_ids_work,
    request_logs_are_idempotent_and_listed_newest_first_with_filters,
    migrations_can_run_twice,
);

const NOW: i64 = 1_795_428_000_000;

async fn keys_are_found_by_secret_until_revoked_or_expired(store: Store) {
    let created = store.create_api_key(NewApiKey { name: "ci".into(), ..NewApiKey::default() }).await.unwrap();
    let found = store.find_active_api_key(&created.secret, NOW).await.unwrap().unwrap();
    assert_eq!(found, created.record);
    assert!(store.find_active_api_key("sk-obl-not-a-key", NOW).await.unwrap().is_none());

    let expiring = store
        .create_api_key(NewApiKey { name: "short".into(), expires_at: Some(NOW + 1000), ..NewApiKey::default() })
        .await
        .unwrap();
    assert!(store.find_active_api_key(&expiring.secret, NOW).await.unwrap().is_some());
    assert!(store.find_active_api_key(&expiring.secret, NOW + 1000).await.unwrap().is_none(), "expired at its instant");

    assert!(store.revoke_api_key(&created.record.prefix, NOW).await.unwrap());
    assert!(store.find_active_api_key(&created.secret, NOW).await.unwrap().is_none());
    assert!(!store.revoke_api_key(&created.record.id.to_string(), NOW).await.unwrap(), "already revoked");
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|k| k.id == created.record.id).unwrap().revoked_at, Some(NOW));
}

async fn keys_keep_their_models_group_and_owner(store: Store) {
    let owner = Uuid::now_v7();
    let created = store
        .create_api_key(NewApiKey {
            name: "limited".into(),
            models: vec!["gpt-4o".into(), "claude".into()],
            is_admin: true,
            user_id: Some(owner),
            group: Some("vip".into()),
            ..NewApiKey::default()
        })
        .await
        .unwrap();
    let found = store.find_active_api_key(&created.secret, NOW).await.unwrap().unwrap();
    assert_eq!(found.models, ["gpt-4o", "claude"]);
    assert_eq!((found.group.as_str(), found.user_id, found.is_admin), ("vip", Some(owner), true));
}

async fn revoking_an_unknown_prefix_changes_nothing_and_ids_work(store: Store) {
    assert!(!store.revoke_api_key("sk-obl-nothing", NOW).await.unwrap());
    let a = store.create_api_key(NewApiKey { name: "a".into(), ..NewApiKey::default() }).await.unwrap();
    assert!(store.revoke_api_key(&a.record.id.to_string(), NOW).await.unwrap());
}

fn log(created_at: i64, model: &str, key_id: Option<Uuid>) -> RequestLog {
    RequestLog {
        id: Uuid::now_v7(),
        created_at,
        key_id,
        key_prefix: "sk-obl-abcdefg".into(),
        ingress: "openai".into(),
        endpoint: "chat".into(),
        model: model.into(),
        upstream_model: Some("up".into()),
        channel: Some("default/c".into()),
        provider: Some("openai".into()),
        status: 200,
        error_class: None,
        attempts: 1,
        stream: true,
        latency_ms: 12,
        ttft_ms: Some(3),
        input_tokens: 10,
        cached_input_tokens: 2,
        cache_write_tokens: 1,
        output_tokens: 5,
        reasoning_tokens: 0,
        usage_estimated: false,
        cost_micros: 1234,
        currency: Some("USD".into()),
        lane: Some("gray".into()),
    }
}

async fn request_logs_are_idempotent_and_listed_newest_first_with_filters(store: Store) {
    let key = Uuid::now_v7();
    // Spread over three months so PostgreSQL rows land in different partitions.
    let month = 31 * 86_400_000;
    let rows: Vec<RequestLog> =
        (0..900).map(|i| log(NOW - month + i * 3_000_000, if i % 2 == 0 { "a" } else { "b" }, (i % 3 == 0).then_some(key))).collect();
    store.insert_request_logs(&rows).await.unwrap();
    store.insert_request_logs(&rows[..10]).await.unwrap(); // a retried batch

    let all = store.list_request_logs(&RequestLogFilter { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 900, "retries never duplicate");
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert_eq!(all.last().unwrap(), &rows[0], "every column round-trips");

    let page = store
        .list_request_logs(&RequestLogFilter { limit: 5, model: Some("a".into()), key_id: Some(key), before: Some(NOW) })
        .await
        .unwrap();
    assert_eq!(page.len(), 5);
    assert!(page.iter().all(|r| r.model == "a" && r.key_id == Some(key) && r.created_at < NOW));
    let clamped = store.list_request_logs(&RequestLogFilter { limit: 0, ..Default::default() }).await.unwrap();
    assert_eq!(clamped.len(), 1, "a zero limit is clamped to one row");
}

async fn migrations_can_run_twice(store: Store) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(matches!(store.kind(), StoreKind::Sqlite | StoreKind::Postgres));
    let _ = TestDatabase::create; // the helper is public API for other crates' tests
}
