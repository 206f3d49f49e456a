//! One test suite, run against both backends (DESIGN rule 3). Each case is an `async fn(Store)`;
//! `both_backends!` turns it into a SQLite test and a PostgreSQL test on a fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oblivious_store::testing::TestDatabase;
use oblivious_store::{
    BalanceChange, BudgetMonth, Charge, LedgerKind, NewApiKey, NewUser, RedeemRefusal, Redemption, RequestLog,
    RequestLogFilter, Rotation, StatsGroup, Store, StoreError, StoreKind, StoredResponse, UserQuery, UserUpdate,
};
use uuid::Uuid;

oblivious_store::both_backends!(
    keys_are_found_by_secret_until_revoked_or_expired,
    keys_follow_their_owner_and_keep_their_models,
    revoking_an_unknown_prefix_changes_nothing_and_ids_work,
    request_logs_are_idempotent_and_listed_newest_first_with_filters,
    migrations_can_run_twice,
    users_are_unique_by_username_and_email_and_searchable,
    balance_changes_keep_the_ledger_summing_to_the_balance,
    a_charge_settles_once_even_when_settled_concurrently,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    redemption_codes_credit_once,
    usage_is_aggregated_by_day_and_model_and_by_group,
    responses_chain_by_owner_and_delete,
);

/// Chat sessions, topics, message trees and agents.
#[path = "suite/chat.rs"]
mod chat;

/// Webhooks and their delivery outbox.
#[path = "suite/webhooks.rs"]
mod webhooks;

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

async fn keys_follow_their_owner_and_keep_their_models(store: Store) {
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
    assert!(store.find_active_api_key(&created.secret, NOW).await.unwrap().is_none(), "its owner does not exist");
    let user = new_user(&store, "owner", 0).await;
    let created = store
        .create_api_key(NewApiKey {
            name: "limited".into(),
            models: vec!["gpt-4o".into(), "claude".into()],
            is_admin: true,
            user_id: Some(user.id),
            group: Some("ignored".into()),
            max_spend_micros: Some(5),
            ..NewApiKey::default()
        })
        .await
        .unwrap();
    let found = store.find_active_api_key(&created.secret, NOW).await.unwrap().unwrap();
    assert_eq!(found.models, ["gpt-4o", "claude"]);
    assert_eq!(
        (found.group.as_str(), found.user_id, found.is_admin),
        ("default", Some(user.id), true),
        "the owner's group wins"
    );
    assert_eq!((found.max_spend_micros, found.spent_micros), (Some(5), 0));
    assert_eq!(store.api_key_spent(created.record.id).await.unwrap(), Some(0));
    store.update_user(user.id, &UserUpdate { group: Some("vip".into()), ..UserUpdate::default() }).await.unwrap();
    let found = store.find_active_api_key(&created.secret, NOW).await.unwrap().unwrap();
    assert_eq!(found.group, "vip");
    assert!(!found.lane_select, "nobody may pick a lane by default");
    store.update_user(user.id, &UserUpdate { lane_select: Some(true), ..UserUpdate::default() }).await.unwrap();
    let found = store.find_active_api_key(&created.secret, NOW).await.unwrap().unwrap();
    assert!(found.lane_select, "a key inherits its owner's laneSelect");
    store.update_user(user.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    assert!(
        store.find_active_api_key(&created.secret, NOW).await.unwrap().is_none(),
        "a disabled user's keys stop working"
    );
    let _ = owner;
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
        user_id: None,
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
        route: Some("all=baseline@base-0, relay=gray@relay-gray-0".into()),
    }
}

async fn request_logs_are_idempotent_and_listed_newest_first_with_filters(store: Store) {
    let key = Uuid::now_v7();
    // Spread over three months so PostgreSQL rows land in different partitions.
    let month = 31 * 86_400_000;
    let rows: Vec<RequestLog> = (0..900)
        .map(|i| log(NOW - month + i * 3_000_000, if i % 2 == 0 { "a" } else { "b" }, (i % 3 == 0).then_some(key)))
        .map(|row| RequestLog { lane: (row.created_at % 2 == 0).then(|| "gray".into()), ..row })
        .collect();
    store.insert_request_logs(&rows).await.unwrap();
    store.insert_request_logs(&rows[..10]).await.unwrap(); // a retried batch

    let all = store.list_request_logs(&RequestLogFilter { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 900, "retries never duplicate");
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert_eq!(all.last().unwrap(), &rows[0], "every column round-trips");

    let page = store
        .list_request_logs(&RequestLogFilter {
            limit: 5,
            model: Some("a".into()),
            key_id: Some(key),
            before: Some(NOW),
            user_id: None,
            lane: None,
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 5);
    assert!(page.iter().all(|r| r.model == "a" && r.key_id == Some(key) && r.created_at < NOW));
    let lane = |tag: &str| RequestLogFilter { limit: 1000, lane: Some(tag.into()), ..Default::default() };
    let gray = store.list_request_logs(&lane("gray")).await.unwrap();
    let baseline = store.list_request_logs(&lane("baseline")).await.unwrap();
    assert_eq!(gray.len(), rows.iter().filter(|r| r.lane.is_some()).count());
    assert!(gray.iter().all(|r| r.lane.as_deref() == Some("gray")) && baseline.iter().all(|r| r.lane.is_none()));
    assert_eq!(gray.len() + baseline.len(), 900, "`baseline` names the requests outside every lane");
    let clamped = store.list_request_logs(&RequestLogFilter { limit: 0, ..Default::default() }).await.unwrap();
    assert_eq!(clamped.len(), 1, "a zero limit is clamped to one row");
}

async fn migrations_can_run_twice(store: Store) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(matches!(store.kind(), StoreKind::Sqlite | StoreKind::Postgres));
    let _ = TestDatabase::create; // the helper is public API for other crates' tests
}

pub(crate) async fn new_user(store: &Store, name: &str, balance: i64) -> oblivious_store::UserRecord {
    let new = NewUser {
        username: name.into(),
        email: format!("{name}@Example.com"),
        password_hash: "argon2-hash".into(),
        initial_balance_micros: balance,
        ..NewUser::default()
    };
    store.create_user(new).await.unwrap()
}

async fn users_are_unique_by_username_and_email_and_searchable(store: Store) {
    let alice = new_user(&store, "alice", 0).await;
    assert_eq!(alice.email, "alice@example.com", "emails are stored lower-cased");
    assert_eq!((alice.role.as_str(), alice.group.as_str(), alice.disabled), ("user", "default", false));
    let taken = store
        .create_user(NewUser { username: "alice".into(), email: "other@example.com".into(), ..NewUser::default() })
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict("username"))), "{taken:?}");
    let taken = store
        .create_user(NewUser { username: "alice2".into(), email: "ALICE@example.com".into(), ..NewUser::default() })
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict("email"))), "{taken:?}");

    let (found, hash) = store.find_user_for_login("ALICE@example.com").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (alice.id, "argon2-hash"));
    assert!(store.find_user_for_login("nobody").await.unwrap().is_none());

    new_user(&store, "bob", 0).await;
    new_user(&store, "under_score", 0).await;
    let found = store.list_users(&UserQuery { search: Some("ALI".into()), limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(found.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["alice"]);
    let literal = store.list_users(&UserQuery { search: Some("_".into()), limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(literal.len(), 1, "LIKE wildcards in a search are literal");
    assert_eq!(store.count_users().await.unwrap(), 3);

    let update = UserUpdate {
        role: Some("admin".into()),
        group: Some("vip".into()),
        disabled: Some(true),
        ..UserUpdate::default()
    };
    let updated = store.update_user(alice.id, &update).await.unwrap().unwrap();
    assert!(updated.is_admin() && updated.disabled && updated.group == "vip");
    let clash = store
        .update_user(alice.id, &UserUpdate { email: Some("bob@example.com".into()), ..UserUpdate::default() })
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict("email"))));
    assert!(store.update_user(Uuid::now_v7(), &update).await.unwrap().is_none());
}

async fn balance_changes_keep_the_ledger_summing_to_the_balance(store: Store) {
    let user = new_user(&store, "carol", 5_000_000).await;
    assert_eq!(user.balance_micros, 5_000_000);
    let change = BalanceChange {
        user_id: user.id,
        kind: LedgerKind::Adjust,
        amount_micros: -1_250_000,
        note: "fix".into(),
        actor_id: None,
    };
    let (entry, state) = store.change_balance(&change).await.unwrap();
    assert_eq!((entry.balance_after, state.balance_micros), (3_750_000, 3_750_000));
    assert!(state.version > user.balance_version);
    let charge = Charge {
        request_id: Uuid::now_v7(),
        user_id: user.id,
        key_id: None,
        cost_micros: 750_000,
        model: "m".into(),
        budget: None,
    };
    let settled = store.settle_charge(&charge).await.unwrap();
    assert!(settled.applied);
    assert_eq!(settled.balance.balance_micros, 3_000_000);
    assert_eq!(store.ledger_sum(user.id).await.unwrap(), 3_000_000);
    let ledger = store.list_ledger(user.id, 10, None).await.unwrap();
    assert_eq!(ledger.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["charge", "adjust", "grant"]);
    assert_eq!(ledger[0].amount_micros, -750_000);
    assert_eq!(ledger[0].balance_after, 3_000_000);

    let missing = BalanceChange { user_id: Uuid::now_v7(), ..change };
    assert!(matches!(store.change_balance(&missing).await, Err(StoreError::NotFound("user"))));
}

async fn a_charge_settles_once_even_when_settled_concurrently(store: Store) {
    let user = new_user(&store, "dave", 1_000_000).await;
    let key = store
        .create_api_key(NewApiKey { name: "k".into(), user_id: Some(user.id), ..NewApiKey::default() })
        .await
        .unwrap();
    let budget = BudgetMonth::at("acme", NOW);
    let charge = Charge {
        request_id: Uuid::now_v7(),
        user_id: user.id,
        key_id: Some(key.record.id),
        cost_micros: 123,
        model: "m".into(),
        budget: Some(budget.clone()),
    };
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let charge = charge.clone();
            tokio::spawn(async move { store.settle_charge(&charge).await.unwrap() })
        })
        .collect();
    let mut applied = 0;
    for attempt in attempts {
        let settled = attempt.await.unwrap();
        assert_eq!(settled.key_spent_micros, Some(123), "every answer reports the key's spend");
        assert_eq!(settled.budget_spent_micros, Some(123), "and the tenant's month");
        applied += usize::from(settled.applied);
    }
    assert_eq!(applied, 1);
    assert_eq!(store.balance(user.id).await.unwrap().unwrap().balance_micros, 1_000_000 - 123);
    assert_eq!(store.ledger_sum(user.id).await.unwrap(), 1_000_000 - 123);
    assert!(store.charge_for_request(charge.request_id).await.unwrap().is_some());
    let keys = store.list_user_api_keys(user.id).await.unwrap();
    assert_eq!(keys[0].spent_micros, 123, "the key's spend moves with the charge");
    assert_eq!(store.budget_spent(&budget).await.unwrap(), 123, "so does the tenant's month, once");
    assert_eq!(store.budget_spent(&BudgetMonth::at("other", NOW)).await.unwrap(), 0);
    assert!(!store.revoke_user_api_key(Uuid::now_v7(), key.record.id, NOW).await.unwrap(), "only the owner revokes");
    assert!(store.revoke_user_api_key(user.id, key.record.id, NOW).await.unwrap());
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(store: Store) {
    let user = new_user(&store, "erin", 0).await;
    let family = Uuid::now_v7();
    store.insert_refresh_token(user.id, family, "h1", NOW + 60_000).await.unwrap();
    let rotated = store.rotate_refresh_token("h1", "h2", NOW, NOW + 60_000).await.unwrap();
    assert_eq!(rotated, Rotation::Rotated { user_id: user.id, family_id: family });
    assert_eq!(store.rotate_refresh_token("h2", "h3", NOW, NOW + 60_000).await.unwrap(), rotated);
    // h1 was already used: someone replayed it.
    let reuse = store.rotate_refresh_token("h1", "h4", NOW, NOW + 60_000).await.unwrap();
    assert_eq!(reuse, Rotation::ReuseDetected { user_id: user.id, family_id: family });
    assert_eq!(
        store.rotate_refresh_token("h3", "h5", NOW, NOW + 60_000).await.unwrap(),
        Rotation::Invalid,
        "the family is dead"
    );
    assert!(store.refresh_family(family).await.unwrap().iter().all(|t| t.revoked_at.is_some()));
    assert_eq!(store.rotate_refresh_token("nope", "x", NOW, NOW).await.unwrap(), Rotation::Invalid);

    store.insert_refresh_token(user.id, Uuid::now_v7(), "e1", NOW + 10).await.unwrap();
    assert_eq!(store.rotate_refresh_token("e1", "e2", NOW + 10, NOW + 20).await.unwrap(), Rotation::Invalid, "expired");
    store.insert_refresh_token(user.id, Uuid::now_v7(), "s1", NOW + 60_000).await.unwrap();
    store.insert_refresh_token(user.id, Uuid::now_v7(), "s2", NOW + 60_000).await.unwrap();
    assert_eq!(store.revoke_refresh_family_of("s1", NOW).await.unwrap(), Some(user.id));
    assert_eq!(store.rotate_refresh_token("s1", "s1b", NOW, NOW + 1).await.unwrap(), Rotation::Invalid);
    let revoked = store.revoke_all_refresh_tokens(user.id, NOW).await.unwrap();
    assert_eq!(revoked, 2, "s2 and the expired, never-revoked e1; s1 and the first family were revoked already");
}

async fn redemption_codes_credit_once(store: Store) {
    let user = new_user(&store, "frank", 0).await;
    let codes = store.create_redeem_codes(2, 2_500_000, "promo", Some(NOW + 1000), None).await.unwrap();
    assert_eq!(codes.len(), 2);
    let (secret, _) = &codes[0];
    let Redemption::Credited { balance, .. } = store.redeem_code(secret, user.id, NOW).await.unwrap() else {
        panic!("first redemption must credit")
    };
    assert_eq!(balance.balance_micros, 2_500_000);
    assert_eq!(store.redeem_code(secret, user.id, NOW).await.unwrap(), Redemption::Refused(RedeemRefusal::AlreadyUsed));
    assert_eq!(
        store.redeem_code(&codes[1].0, user.id, NOW + 1000).await.unwrap(),
        Redemption::Refused(RedeemRefusal::Expired)
    );
    assert_eq!(
        store.redeem_code("rc-unknown", user.id, NOW).await.unwrap(),
        Redemption::Refused(RedeemRefusal::Unknown)
    );
    assert_eq!(store.ledger_sum(user.id).await.unwrap(), 2_500_000);
    assert!(store.create_redeem_codes(1, 0, "", None, None).await.is_err());
    assert_eq!(store.list_redeem_codes(10).await.unwrap().len(), 2);
}

async fn usage_is_aggregated_by_day_and_model_and_by_group(store: Store) {
    let user = Uuid::now_v7();
    let day = 86_400_000;
    let mut rows = Vec::new();
    // A 499 (the client went away: a stopped reply) is counted apart from failures.
    for (offset, model, status) in [(0, "a", 200), (1, "a", 500), (2, "b", 200), (3, "b", 499), (day, "a", 200)] {
        let mut row = log(NOW + offset, model, None);
        row.user_id = Some(user);
        row.status = status;
        rows.push(row);
    }
    rows.push(log(NOW, "a", None)); // someone else's
    store.insert_request_logs(&rows).await.unwrap();
    let usage = store.user_usage(user, NOW - day, NOW + 2 * day).await.unwrap();
    let summary: Vec<(String, Option<String>, i64, i64, i64)> =
        usage.iter().map(|r| (r.bucket.clone(), r.model.clone(), r.requests, r.errors, r.cancelled)).collect();
    assert_eq!(
        summary,
        [
            ("2026-11-24".to_string(), Some("a".to_string()), 1, 0, 0),
            ("2026-11-23".to_string(), Some("a".to_string()), 2, 1, 0),
            ("2026-11-23".to_string(), Some("b".to_string()), 2, 0, 1),
        ]
    );
    assert_eq!(usage[1].cost_micros, 2 * 1234);
    let by_model = store.usage_stats(StatsGroup::Model, NOW - day, NOW + 2 * day).await.unwrap();
    assert_eq!(by_model.iter().map(|r| (r.bucket.as_str(), r.requests)).collect::<Vec<_>>(), [("a", 4), ("b", 2)]);
    let by_user = store.usage_stats(StatsGroup::User, NOW - day, NOW + 2 * day).await.unwrap();
    assert!(by_user.iter().any(|r| r.bucket == user.to_string() && r.requests == 5 && r.cancelled == 1));
    let by_day = store.usage_stats(StatsGroup::Day, NOW - day, NOW + 2 * day).await.unwrap();
    assert_eq!(by_day.len(), 2);
}

fn stored(id: &str, owner: &str, previous: Option<&str>, created_at: i64) -> StoredResponse {
    StoredResponse {
        id: id.into(),
        owner: owner.into(),
        previous_response_id: previous.map(str::to_string),
        input: format!("[{{\"id\":\"in-{id}\"}}]"),
        response: format!("{{\"id\":\"{id}\"}}"),
        created_at,
    }
}

async fn responses_chain_by_owner_and_delete(store: Store) {
    store.insert_response(&stored("r1", "user:a", None, NOW)).await.unwrap();
    store.insert_response(&stored("r2", "user:a", Some("r1"), NOW + 1)).await.unwrap();
    store.insert_response(&stored("r3", "user:a", Some("r2"), NOW + 2)).await.unwrap();
    // Storing again replaces (a retried write must not fail the answer).
    store.insert_response(&stored("r3", "user:a", Some("r2"), NOW + 2)).await.unwrap();

    let chain = store.response_chain("user:a", "r3").await.unwrap().unwrap();
    assert_eq!(chain.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r1", "r2", "r3"]);
    assert_eq!(chain[1], stored("r2", "user:a", Some("r1"), NOW + 1));
    assert_eq!(store.response_chain("user:b", "r3").await.unwrap(), None, "another owner sees nothing");
    assert_eq!(store.response("user:b", "r1").await.unwrap(), None);

    assert!(store.delete_response("user:a", "r2").await.unwrap());
    assert!(!store.delete_response("user:a", "r2").await.unwrap());
    assert!(!store.delete_response("user:b", "r1").await.unwrap(), "only the owner deletes");
    let chain = store.response_chain("user:a", "r3").await.unwrap().unwrap();
    assert_eq!(chain.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r3"], "a deleted link ends the chain");
}
