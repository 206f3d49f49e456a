//! Logging set-up shared by every binary: `RUST_LOG` filter, human output on a terminal and JSON
//! lines when `OBLIVIOUS_LOG_FORMAT=json` (what a cluster's log pipeline wants).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call twice (the second call is a no-op), which tests need.
pub fn init_logging(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("OBLIVIOUS_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
