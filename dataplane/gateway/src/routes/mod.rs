//! The product API's routes, one module per area.

pub mod admin;
pub mod admin_dashboard;
pub mod auth;
pub mod files;
pub mod keys;
pub mod user;
pub mod webhooks;
