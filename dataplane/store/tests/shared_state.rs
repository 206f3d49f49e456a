//! The quota book and the rate limiter, each run in process memory and against a real Redis
//! (`OBLIVIOUS_TEST_REDIS_URL`, required when `OBLIVIOUS_REQUIRE_REDIS=1`), with the same cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use oblivious_store::kv::SharedState;
use oblivious_store::limits::LimitCheck;
use oblivious_store::quota::{BudgetHold, Freshness, HOLD_TTL, Hold, Reservation};
use oblivious_store::{BalanceState, BudgetMonth};
use uuid::Uuid;

macro_rules! both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn in_process() {
                super::$case(oblivious_store::kv::SharedState::local()).await;
            }

            #[tokio::test]
            async fn redis() {
                let Some(state) = super::redis_state().await else { return };
                super::$case(state).await;
            }
        }
    )*};
}

async fn redis_state() -> Option<SharedState> {
    let url = oblivious_store::testing::test_redis_url()?;
    Some(SharedState::redis(&url, &oblivious_store::testing::unique_redis_prefix()).await.unwrap())
}

both!(
    a_hold_needs_a_cached_balance_and_never_exceeds_it,
    settling_installs_only_newer_balances_and_releases_once,
    a_capped_key_cannot_reserve_past_its_cap,
    a_tenant_budget_is_held_like_a_cap_across_users_and_released_every_way,
    concurrent_reservations_never_overdraw,
    expired_holds_are_released,
    a_provisional_settlement_keeps_the_money_spent_until_the_database_catches_up,
    limits_admit_their_burst_then_refuse_with_a_retry_time,
    limits_are_all_or_nothing,
    adjustments_charge_and_refund_tokens_after_the_fact,
    concurrent_requests_are_admitted_exactly_up_to_the_limit,
);

const NOW: i64 = 1_795_428_000_000;

fn hold(user: Uuid, amount: i64) -> Hold {
    Hold {
        request_id: Uuid::now_v7(),
        user_id: user,
        key_id: None,
        key_cap_micros: None,
        amount_micros: amount,
        budget: None,
    }
}

fn balance(user: Uuid, micros: i64, version: i64) -> Freshness {
    Freshness {
        user_id: Some(user),
        balance: Some(BalanceState { balance_micros: micros, version }),
        ..Freshness::default()
    }
}

async fn a_hold_needs_a_cached_balance_and_never_exceeds_it(state: SharedState) {
    let quota = &state.quota;
    let user = Uuid::now_v7();
    let first = hold(user, 600);
    assert_eq!(quota.reserve(&first, NOW).await.unwrap(), Reservation::NeedBalance);
    quota.settle(None, &balance(user, 1000, 1)).await.unwrap();
    assert_eq!(quota.reserve(&first, NOW).await.unwrap(), Reservation::Held { available_after: 400 });
    assert!(matches!(quota.reserve(&first, NOW).await.unwrap(), Reservation::Held { .. }), "holding twice is a no-op");
    assert_eq!(quota.held(user).await.unwrap(), 600);
    assert_eq!(
        quota.reserve(&hold(user, 401), NOW).await.unwrap(),
        Reservation::InsufficientBalance { available: 400 }
    );
    assert_eq!(quota.reserve(&hold(user, 400), NOW).await.unwrap(), Reservation::Held { available_after: 0 });
}

async fn settling_installs_only_newer_balances_and_releases_once(state: SharedState) {
    let quota = &state.quota;
    let user = Uuid::now_v7();
    quota.settle(None, &balance(user, 1000, 5)).await.unwrap();
    let h = hold(user, 300);
    quota.reserve(&h, NOW).await.unwrap();
    // The database charged 250 (version 6); the hold of 300 goes away.
    quota.settle(Some(h.request_id), &balance(user, 750, 6)).await.unwrap();
    assert_eq!(quota.held(user).await.unwrap(), 0);
    quota.settle(Some(h.request_id), &balance(user, 750, 6)).await.unwrap();
    assert_eq!(quota.held(user).await.unwrap(), 0, "a second release does nothing");
    // An older balance arriving late is ignored.
    quota.settle(None, &balance(user, 1000, 5)).await.unwrap();
    assert_eq!(
        quota.reserve(&hold(user, 751), NOW).await.unwrap(),
        Reservation::InsufficientBalance { available: 750 }
    );
}

async fn a_capped_key_cannot_reserve_past_its_cap(state: SharedState) {
    let quota = &state.quota;
    let user = Uuid::now_v7();
    let key = Uuid::now_v7();
    quota.settle(None, &balance(user, 1_000_000, 1)).await.unwrap();
    let capped = |amount| Hold { key_id: Some(key), key_cap_micros: Some(500), ..hold(user, amount) };
    assert_eq!(quota.reserve(&capped(100), NOW).await.unwrap(), Reservation::NeedKeySpend);
    let spend = Freshness { key_id: Some(key), key_spent_micros: Some(300), ..Freshness::default() };
    quota.settle(None, &spend).await.unwrap();
    let first = capped(150);
    assert!(matches!(quota.reserve(&first, NOW).await.unwrap(), Reservation::Held { .. }));
    assert_eq!(quota.reserve(&capped(51), NOW).await.unwrap(), Reservation::KeyCapReached { remaining: 50 });
    // Settled at 120: spend grows to 420, the hold is gone.
    let settled = Freshness { key_id: Some(key), key_spent_micros: Some(420), ..Freshness::default() };
    quota.settle(Some(first.request_id), &settled).await.unwrap();
    assert_eq!(quota.reserve(&capped(81), NOW).await.unwrap(), Reservation::KeyCapReached { remaining: 80 });
    let stale = Freshness { key_id: Some(key), key_spent_micros: Some(0), ..Freshness::default() };
    quota.settle(None, &stale).await.unwrap();
    assert_eq!(
        quota.reserve(&capped(81), NOW).await.unwrap(),
        Reservation::KeyCapReached { remaining: 80 },
        "spend never shrinks"
    );
}

async fn a_tenant_budget_is_held_like_a_cap_across_users_and_released_every_way(state: SharedState) {
    let quota = &state.quota;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let month = BudgetMonth::at(&format!("acme-{}", Uuid::now_v7()), NOW);
    for user in [alice, bob] {
        quota.settle(None, &balance(user, 1_000_000, 1)).await.unwrap();
    }
    let budgeted = |user, amount| Hold {
        budget: Some(BudgetHold { month: month.clone(), cap_micros: 1_000 }),
        ..hold(user, amount)
    };
    assert_eq!(quota.reserve(&budgeted(alice, 100), NOW).await.unwrap(), Reservation::NeedBudgetSpend);
    let spend = |spent| Freshness { budget: Some((month.clone(), spent)), ..Freshness::default() };
    quota.settle(None, &spend(600)).await.unwrap();
    let first = budgeted(alice, 300);
    assert!(matches!(quota.reserve(&first, NOW).await.unwrap(), Reservation::Held { .. }));
    assert_eq!(
        quota.reserve(&budgeted(bob, 101), NOW).await.unwrap(),
        Reservation::BudgetExhausted { remaining: 100 },
        "another user of the tenant sees the same budget"
    );
    assert_eq!(quota.held(bob).await.unwrap(), 0, "a refused hold holds nothing");
    // Settled at 250: the month's spend is 850, the hold is gone.
    quota.settle(Some(first.request_id), &spend(850)).await.unwrap();
    assert_eq!(quota.reserve(&budgeted(bob, 151), NOW).await.unwrap(), Reservation::BudgetExhausted { remaining: 150 });
    quota.settle(None, &spend(0)).await.unwrap();
    assert_eq!(
        quota.reserve(&budgeted(bob, 151), NOW).await.unwrap(),
        Reservation::BudgetExhausted { remaining: 150 },
        "spend never shrinks"
    );
    // The database is down: the cost is deducted provisionally from the budget too.
    let second = budgeted(bob, 100);
    assert!(matches!(quota.reserve(&second, NOW).await.unwrap(), Reservation::Held { .. }));
    quota.settle_provisionally(&second, 40).await.unwrap();
    assert_eq!(quota.reserve(&budgeted(bob, 111), NOW).await.unwrap(), Reservation::BudgetExhausted { remaining: 110 });
    // A hold whose request never settles gives its share back when it expires.
    let orphan = budgeted(alice, 110);
    assert!(matches!(quota.reserve(&orphan, NOW).await.unwrap(), Reservation::Held { .. }));
    assert_eq!(quota.reserve(&budgeted(bob, 1), NOW).await.unwrap(), Reservation::BudgetExhausted { remaining: 0 });
    quota.expire_holds(NOW + HOLD_TTL.as_millis() as i64 + 1).await.unwrap();
    assert!(matches!(quota.reserve(&budgeted(bob, 110), NOW).await.unwrap(), Reservation::Held { .. }));
}

async fn concurrent_reservations_never_overdraw(state: SharedState) {
    let user = Uuid::now_v7();
    state.quota.settle(None, &balance(user, 10 * 1000, 1)).await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let quota = state.quota.clone();
            tokio::spawn(async move { quota.reserve(&hold(user, 1000), NOW).await.unwrap() })
        })
        .collect();
    let mut held = 0;
    for task in tasks {
        held += usize::from(matches!(task.await.unwrap(), Reservation::Held { .. }));
    }
    assert_eq!(held, 10);
    assert_eq!(state.quota.held(user).await.unwrap(), 10_000);
}

async fn expired_holds_are_released(state: SharedState) {
    let user = Uuid::now_v7();
    state.quota.settle(None, &balance(user, 1000, 1)).await.unwrap();
    state.quota.reserve(&hold(user, 700), NOW).await.unwrap();
    assert_eq!(state.quota.expire_holds(NOW + 1000).await.unwrap(), 0, "not yet expired");
    let ttl = HOLD_TTL.as_millis() as i64;
    assert!(state.quota.expire_holds(NOW + ttl + 1).await.unwrap() >= 1);
    assert_eq!(state.quota.held(user).await.unwrap(), 0);
}

async fn a_provisional_settlement_keeps_the_money_spent_until_the_database_catches_up(state: SharedState) {
    let quota = &state.quota;
    let user = Uuid::now_v7();
    let key = Uuid::now_v7();
    quota.settle(None, &balance(user, 1000, 3)).await.unwrap();
    quota
        .settle(None, &Freshness { key_id: Some(key), key_spent_micros: Some(0), ..Freshness::default() })
        .await
        .unwrap();
    let h = Hold { key_id: Some(key), key_cap_micros: Some(10_000), ..hold(user, 500) };
    quota.reserve(&h, NOW).await.unwrap();
    quota.settle_provisionally(&h, 400).await.unwrap();
    assert_eq!(quota.held(user).await.unwrap(), 0);
    assert_eq!(
        quota.reserve(&hold(user, 601), NOW).await.unwrap(),
        Reservation::InsufficientBalance { available: 600 }
    );
    let capped = Hold { key_id: Some(key), key_cap_micros: Some(500), ..hold(user, 101) };
    assert_eq!(quota.reserve(&capped, NOW).await.unwrap(), Reservation::KeyCapReached { remaining: 100 });
    // The replayed charge arrives with the database's newer balance, which includes it.
    quota.settle(None, &balance(user, 600, 4)).await.unwrap();
    assert_eq!(
        quota.reserve(&hold(user, 601), NOW).await.unwrap(),
        Reservation::InsufficientBalance { available: 600 }
    );
}

fn now_us() -> i64 {
    NOW * 1000
}

async fn limits_admit_their_burst_then_refuse_with_a_retry_time(state: SharedState) {
    let name = format!("key:{}:rpm", Uuid::now_v7());
    let check = LimitCheck::per_minute(name, 3, 1);
    for remaining in [2, 1, 0] {
        let verdict = state.limiter.check(std::slice::from_ref(&check), now_us()).await.unwrap();
        assert!(verdict.allowed());
        assert_eq!(verdict.states[0].remaining, remaining);
    }
    let refused = state.limiter.check(std::slice::from_ref(&check), now_us()).await.unwrap();
    assert!(!refused.allowed());
    assert_eq!(refused.states[0].retry_after, Some(Duration::from_secs(20)));
    assert_eq!(refused.states[0].reset, Duration::from_secs(60));
    let later = state.limiter.check(std::slice::from_ref(&check), now_us() + 20_000_000).await.unwrap();
    assert!(later.allowed());
}

async fn limits_are_all_or_nothing(state: SharedState) {
    let id = Uuid::now_v7();
    let roomy = LimitCheck::per_minute(format!("{id}:roomy"), 100, 1);
    let tight = LimitCheck::per_minute(format!("{id}:tight"), 1, 1);
    assert!(state.limiter.check(&[roomy.clone(), tight.clone()], now_us()).await.unwrap().allowed());
    let refused = state.limiter.check(&[roomy.clone(), tight], now_us()).await.unwrap();
    assert!(!refused.allowed());
    assert!(refused.states[0].allowed && !refused.states[1].allowed);
    let alone = state.limiter.check(&[roomy], now_us()).await.unwrap();
    assert_eq!(alone.states[0].remaining, 98, "the refused request consumed nothing");
    let too_big = LimitCheck::per_minute(format!("{id}:tpm"), 1000, 5000);
    let never = state.limiter.check(&[too_big], now_us()).await.unwrap();
    assert_eq!((never.allowed(), never.states[0].retry_after), (false, None));
}

async fn adjustments_charge_and_refund_tokens_after_the_fact(state: SharedState) {
    let check = LimitCheck::per_minute(format!("{}:tpm", Uuid::now_v7()), 1000, 100);
    assert!(state.limiter.check(std::slice::from_ref(&check), now_us()).await.unwrap().allowed());
    state.limiter.adjust(&check, 850, now_us()).await.unwrap(); // the answer was long
    let refused = state.limiter.check(std::slice::from_ref(&check), now_us()).await.unwrap();
    assert!(!refused.allowed(), "950 of 1000 used, 100 more do not fit");
    state.limiter.adjust(&check, -500, now_us()).await.unwrap();
    let verdict = state.limiter.check(std::slice::from_ref(&check), now_us()).await.unwrap();
    assert!(verdict.allowed());
    assert_eq!(verdict.states[0].remaining, 450);
}

async fn concurrent_requests_are_admitted_exactly_up_to_the_limit(state: SharedState) {
    let check = LimitCheck::per_minute(format!("{}:rpm", Uuid::now_v7()), 25, 1);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let limiter = state.limiter.clone();
            let check = check.clone();
            tokio::spawn(async move { limiter.check(&[check], now_us()).await.unwrap().allowed() })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += usize::from(task.await.unwrap());
    }
    assert_eq!(admitted, 25);
}
