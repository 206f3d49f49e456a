//! The config-stream messages and gRPC stubs generated from `proto/oblivious/config/v1/config.proto`
//! (the contract; read it for the field semantics).

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("oblivious.config.v1");
