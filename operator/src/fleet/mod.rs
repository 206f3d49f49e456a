//! The data-plane workloads a Tenant owns. (Being written.)
