//! The Oblivious operator (DESIGN §3, §4): reconciles the `oblivious.dev` custom resources and
//! streams each tenant's compiled configuration to its data-plane pods.
//!
//! - `cluster`: `oblivious-operator run` — caches, the compile loop, leader election, wiring.
//! - `controllers`: one file per kind — reconcile, status and conditions, events.
//! - `fleet`: the data-plane Deployments, Services, HPAs and PDBs a Tenant owns.
//! - `distribution`: the config stream server (tonic) and ACK/NACK accounting, fed by the
//!   cluster's resources or, outside a cluster, by a watched manifests directory.
//! - `compile_cli`: `oblivious-operator compile`, the GitOps pre-merge check.
//! - `crdgen`: `oblivious-operator crdgen`, the CRD YAML from the Rust types.

pub mod cluster;
pub mod compile_cli;
pub mod controllers;
pub mod crdgen;
pub mod distribution;
pub mod fleet;
