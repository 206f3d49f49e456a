//! `oblivious keys create|list|revoke`.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use oblivious_store::NewApiKey;
use serde_json::json;

use crate::cli::{KeysArgs, KeysCommand};

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let store = args.store.connect().await?;
    store.migrate().await.context("migrations failed")?;
    let now = now_ms();
    match args.command {
        KeysCommand::Create { name, models, expires, admin, lane_select, json } => {
            let expires_at = match expires {
                Some(text) => Some(now + parse_lifetime_ms(&text)?),
                None => None,
            };
            let models: Vec<String> =
                models.into_iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
            let created = store
                .create_api_key(NewApiKey {
                    name,
                    models,
                    expires_at,
                    is_admin: admin,
                    lane_select,
                    ..NewApiKey::default()
                })
                .await?;
            if json {
                let mut value = serde_json::to_value(&created.record)?;
                value["key"] = json!(created.secret);
                println!("{value}");
            } else {
                println!("{}", created.secret);
                eprintln!(
                    "created key {} ({}); store it now: it will not be shown again",
                    created.record.id, created.record.prefix
                );
            }
        }
        KeysCommand::List { json } => {
            let keys = store.list_api_keys().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!("{:<38} {:<14} {:<20} {:<8} {:<24} STATE", "ID", "PREFIX", "NAME", "ADMIN", "MODELS");
                for key in keys {
                    let state = if key.revoked_at.is_some() {
                        "revoked"
                    } else if key.expires_at.is_some_and(|at| at <= now) {
                        "expired"
                    } else {
                        "active"
                    };
                    let models = if key.models.is_empty() { "*".to_string() } else { key.models.join(",") };
                    println!(
                        "{:<38} {:<14} {:<20} {:<8} {:<24} {state}",
                        key.id, key.prefix, key.name, key.is_admin, models
                    );
                }
            }
        }
        KeysCommand::Revoke { id_or_prefix } => {
            if !store.revoke_api_key(&id_or_prefix, now).await? {
                bail!("no active key matches `{id_or_prefix}`");
            }
            eprintln!("revoked {id_or_prefix}; running servers stop accepting it within a few seconds");
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Parses `30d`, `12h`, `15m`, `90s` (humantime syntax, plus `d` for days).
fn parse_lifetime_ms(text: &str) -> anyhow::Result<i64> {
    let duration =
        humantime::parse_duration(text).with_context(|| format!("`{text}` is not a lifetime like 30d or 12h"))?;
    i64::try_from(duration.as_millis()).context("lifetime too long")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_in_days_hours_and_seconds_parse() {
        assert_eq!(parse_lifetime_ms("30d").ok(), Some(30 * 86_400_000));
        assert_eq!(parse_lifetime_ms("90s").ok(), Some(90_000));
        assert!(parse_lifetime_ms("soon").is_err());
    }
}
