//! Reconcile scenarios against a fake API server (tower-test), one module per controller.
//! Each test states a situation and checks exactly which requests the operator made and what
//! status and events they carried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent;
mod channel;
mod compile;
mod fixtures;
mod health;
mod lane;
mod leader;
mod pricing;
mod tenant;
mod toolserver;
