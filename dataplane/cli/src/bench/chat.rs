//! `oblivious bench chat` (DESIGN §8): how fast a conversation page loads from a big database,
//! and what the chat path adds to a reply's first token.
//!
//! 1. Pages: a throw-away PostgreSQL database (on the server of `--database-url`) is seeded with
//!    `--messages` messages in topics of `--topic-length`, then random topics' newest pages and
//!    deep pages (`before=` the middle of the branch) of 50 are read through the store.
//! 2. First event: an in-process deployment (mock upstream, relay with billing, gateway, chat on
//!    the in-process bus) measures, one request at a time, the relay's own time to first token
//!    and the time from the chat send to the first streamed text event.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use oblivious_store::Store;
use oblivious_store::chat::{SeededChats, seed_chat_topics};
use oblivious_store::testing::TestDatabase;
use rand::Rng;
use serde_json::{Value, json};

use super::deployment::Deployment;

#[derive(Args)]
pub struct ChatBenchArgs {
    /// PostgreSQL server for the page benchmark (a database is created there and dropped).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Messages to seed.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// Messages per topic (each topic one branch).
    #[arg(long, default_value_t = 100)]
    pub topic_length: i64,
    /// Page reads per measurement.
    #[arg(long, default_value_t = 2_000)]
    pub samples: usize,
    /// Sends measured for the first-event comparison.
    #[arg(long, default_value_t = 200)]
    pub sends: usize,
    /// Keep the seeded database (its URL is printed) instead of dropping it.
    #[arg(long)]
    pub keep: bool,
}

const PAGE: i64 = 50;

pub async fn run(args: ChatBenchArgs) -> anyhow::Result<()> {
    println!("oblivious bench chat\n");
    match args.database_url.as_deref().filter(|u| u.starts_with("postgres")) {
        Some(url) => pages(&args, url).await?,
        None => println!("pages: skipped (set --database-url / DATABASE_URL to a PostgreSQL server)\n"),
    }
    first_event(&args).await
}

async fn pages(args: &ChatBenchArgs, admin_url: &str) -> anyhow::Result<()> {
    let topics = (args.messages / args.topic_length).max(1);
    let db = TestDatabase::create_on(admin_url, "obl_bench_chat").await.context("cannot create the bench database")?;
    let store = db.store().await?;
    let started = Instant::now();
    let seeded = seed_chat_topics(&store, topics, args.topic_length, |done| {
        if done % 100_000 < args.topic_length * 1_000 {
            eprint!("\rseeding: {done} / {} messages", topics * args.topic_length);
        }
    })
    .await?;
    eprintln!();
    analyze(&store).await;
    println!(
        "pages: {} messages in {topics} topics of {} (seeded in {:.1} s), page size {PAGE}, {} samples",
        topics * args.topic_length,
        args.topic_length,
        started.elapsed().as_secs_f64(),
        args.samples
    );
    let newest = time_pages(&store, &seeded, args.samples, false).await?;
    let deep = time_pages(&store, &seeded, args.samples, true).await?;
    print_latencies("  newest page", &newest);
    print_latencies("  deep page  ", &deep);
    println!("  target (DESIGN §8): a 50-message page from a 1M-message database, p99 < 5 ms (PostgreSQL)\n");
    store.close().await;
    if args.keep {
        println!("kept the database: {}", db.url);
    } else {
        db.drop_database().await?;
    }
    Ok(())
}

/// Fresh statistics, as autovacuum would have them on a long-running database.
pub(super) async fn analyze(store: &Store) {
    if let Err(error) = store.analyze().await {
        eprintln!("ANALYZE failed ({error}); timings may include planning on stale statistics");
    }
}

/// Reads random topics' newest pages, or their pages above the middle of the branch.
async fn time_pages(store: &Store, seeded: &SeededChats, samples: usize, deep: bool) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let topic = rand::rng().random_range(1..=seeded.topics);
        let before = deep.then(|| seeded.message_id(topic, seeded.length / 2 + 1));
        let started = Instant::now();
        let page = store.chat_branch_page(seeded.user_id, seeded.topic_id(topic), before, PAGE).await?;
        latencies.push(started.elapsed());
        let count = page.map_or(0, |p| p.messages.len());
        anyhow::ensure!(count as i64 == PAGE.min(seeded.length), "a page held {count} messages");
    }
    latencies.sort();
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub(super) fn print_latencies(label: &str, sorted: &[Duration]) {
    println!(
        "{label}  p50 {:>9}  p99 {:>9}  p99.9 {:>9}",
        ms(percentile(sorted, 50.0)),
        ms(percentile(sorted, 99.0)),
        ms(percentile(sorted, 99.9))
    );
}

/// The relay's time to first token vs the chat's send to first text event, one at a time.
async fn first_event(args: &ChatBenchArgs) -> anyhow::Result<()> {
    let deployment = Deployment::start(None, false).await?;
    let http = reqwest::Client::new();
    let token = deployment.user_token(&http).await?;
    let session: Value = http
        .post(format!("{}/api/v1/chat/sessions", deployment.base))
        .bearer_auth(&token)
        .json(&json!({"model": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let session = session["id"].as_str().context("no session id")?.to_string();

    let mut relay_ttft = Vec::with_capacity(args.sends);
    let mut chat_first = Vec::with_capacity(args.sends);
    // Warm both paths (connection pools, caches, tiktoken) before measuring.
    for round in 0..args.sends + 10 {
        let relay = deployment.relay_first_token(&http).await?;
        let chat = deployment.chat_first_event(&http, &token, &session).await?;
        if round >= 10 {
            relay_ttft.push(relay);
            chat_first.push(chat);
        }
    }
    relay_ttft.sort();
    chat_first.sort();
    println!(
        "first event: {} sends, one at a time, mock upstream answering at once (in-process bus, SQLite)",
        args.sends
    );
    print_latencies("  relay time to first token       ", &relay_ttft);
    print_latencies("  chat send to first text event   ", &chat_first);
    let delta = |p| percentile(&chat_first, p).saturating_sub(percentile(&relay_ttft, p));
    println!("  chat adds                          p50 {:>9}  p99 {:>9}", ms(delta(50.0)), ms(delta(99.0)));
    println!("  (the send writes the exchange in one transaction, then the reader attaches to the stream)");
    Ok(())
}

/// The chat path on top of the in-process deployment.
impl Deployment {
    /// What chat itself sends the relay, timed to the first content chunk.
    async fn relay_first_token(&self, http: &reqwest::Client) -> anyhow::Result<Duration> {
        let body = json!({"model": "bench", "stream": true, "messages": [{"role": "user", "content": "Hello"}]});
        let started = Instant::now();
        let mut response = http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(&self.internal_token)
            .header(oblivious_core::edge::HOP_TOKEN_HEADER, &self.internal_token)
            .header(oblivious_core::edge::USER_HEADER, self.user_id.get().context("no user")?.as_str())
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        let first = first_matching(&mut response, "\"content\":\"M").await?;
        let elapsed = started.elapsed();
        while response.chunk().await?.is_some() {}
        first.then_some(elapsed).context("the relay stream had no content")
    }

    /// From the send to the first `text` event of its stream.
    async fn chat_first_event(&self, http: &reqwest::Client, token: &str, session: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let sent: Value = http
            .post(format!("{}/api/v1/chat/sessions/{session}/messages", self.base))
            .bearer_auth(token)
            .json(&json!({"content": "Hello"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let stream = sent["stream_id"].as_str().context("no stream id")?;
        let mut response = http
            .get(format!("{}/api/v1/chat/streams/{stream}", self.base))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        let first = first_matching(&mut response, "event: text").await?;
        let elapsed = started.elapsed();
        while response.chunk().await?.is_some() {}
        first.then_some(elapsed).context("the chat stream had no text event")
    }
}

/// Reads until `needle` appeared (true) or the body ended (false).
async fn first_matching(response: &mut reqwest::Response, needle: &str) -> anyhow::Result<bool> {
    let mut seen = String::new();
    while let Some(chunk) = response.chunk().await? {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if seen.contains(needle) {
            return Ok(true);
        }
    }
    Ok(false)
}
