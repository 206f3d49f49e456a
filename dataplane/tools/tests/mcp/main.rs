//! Integration tests of oblivious-tools: one binary, the real MCP server where it matters
//! (`everything`), tiny misbehaving servers (`misbehaving`) and policy decisions (`policy`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod everything;
mod misbehaving;
mod policy;
mod support;
