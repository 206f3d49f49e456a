//! The Oblivious operator (DESIGN §3, §4): reconciles the `oblivious.dev` custom resources and
//! streams each tenant's compiled configuration to its data-plane pods.
//!
//! - `controllers`: one file per kind — reconcile, status and conditions, events.
//! - `fleet`: the data-plane Deployments, Services, HPAs and PDBs a Tenant owns.
//! - `distribution`: the config stream server (tonic) and ACK/NACK accounting, fed by the
//!   cluster's resources or, outside a cluster, by a watched manifests directory.
//! - `compile_cli`: `oblivious-operator compile`, the GitOps pre-merge check.

pub mod compile_cli;
pub mod controllers;
pub mod distribution;
pub mod fleet;
