//! The ingestion half of `oblivious bench rag`: Markdown files through the whole pipeline of an
//! in-process deployment — claimed, read from file storage, parsed, chunked, embedded through the
//! relay (billed; the mock upstream's hashed-token vectors stand in for a model, so the number is
//! our pipeline's cost, not a provider's) in batches of 32, and stored — by `--ingest-workers`
//! workers at once, on SQLite and, with `--database-url`, PostgreSQL.

use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use oblivious_rag::Outcome;
use oblivious_store::Store;
use serde_json::{Value, json};
use uuid::Uuid;

use super::deployment::Deployment;

/// Words of one section; with the default 512-token chunks, about one chunk each.
const SECTION_WORDS: usize = 300;
const VOCABULARY: &[&str] = &[
    "battery", "inverter", "warranty", "install", "firmware", "gateway", "meter", "solar", "panel", "grid", "export",
    "reserve", "schedule", "tariff", "cell", "module", "fault", "reset", "update", "support", "customer", "order",
];

/// What to ingest, and with how many workers.
pub struct IngestRun {
    pub files: usize,
    pub sections_per_file: usize,
    pub workers: usize,
}

/// Ingests `run.files` generated documents on `store` (SQLite when `None`) and prints the rate.
pub async fn measure(store: Option<Store>, label: &str, run: &IngestRun) -> anyhow::Result<()> {
    let deployment = Deployment::start(store, true).await?;
    let rag = deployment.rag.clone().context("the deployment has no RAG service")?;
    let files = rag.gateway.files.clone().context("the deployment has no file storage")?;
    let http = reqwest::Client::new();
    let token = deployment.user_token(&http).await?;
    let user_id: Uuid = deployment.user_id.get().context("no user")?.parse()?;
    let kb: Value = http
        .post(format!("{}/api/v1/knowledge-bases", deployment.base))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "embedding_model": "bench-embed"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let kb_id = kb["id"].as_str().context("no knowledge base id")?;
    for i in 0..run.files {
        let upload =
            files.upload(user_id, &format!("doc-{i}.md"), Bytes::from(document(i, run.sections_per_file))).await?;
        http.post(format!("{}/api/v1/knowledge-bases/{kb_id}/files", deployment.base))
            .bearer_auth(&token)
            .json(&json!({"file_id": upload.file.id}))
            .send()
            .await?
            .error_for_status()?;
    }

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..run.workers.max(1) {
        let ingestor = rag.ingestor.clone();
        let lifecycle = rag.gateway.runtime.lifecycle.clone();
        workers.spawn(async move {
            let mut chunks = 0;
            while let Some(outcome) = ingestor.run_once(&lifecycle).await? {
                match outcome {
                    Outcome::Indexed { chunks: n } => chunks += n,
                    other => anyhow::bail!("a file was not indexed: {other:?}"),
                }
            }
            anyhow::Ok(chunks)
        });
    }
    let mut chunks = 0;
    while let Some(done) = workers.join_next().await {
        chunks += done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{label}: ingested {} files, {chunks} chunks in {seconds:.1} s with {} workers: {:.0} chunks/s, {:.1} files/s",
        run.files,
        run.workers,
        chunks as f64 / seconds,
        run.files as f64 / seconds
    );
    Ok(())
}

/// Document `seed`: a title and `sections` headed sections of varied words.
fn document(seed: usize, sections: usize) -> String {
    let mut text = format!("# Document {seed}\n\n");
    for section in 0..sections {
        text.push_str(&format!("## Part {section}\n\n"));
        let words: Vec<&str> =
            (0..SECTION_WORDS).map(|i| VOCABULARY[(seed * 31 + section * 7 + i * i) % VOCABULARY.len()]).collect();
        text.push_str(&words.join(" "));
        text.push_str(".\n\n");
    }
    text
}
