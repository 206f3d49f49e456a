//! Knowledge bases and their ingestion over real HTTP, on SQLite and on PostgreSQL: files
//! uploaded through `/api/v1/files`, added to a knowledge base, parsed, chunked and embedded
//! through the relay (billed to the user) by `Ingestor::run_once`; failures with a reason and
//! retries; a worker that dies mid-embedding resumed without duplicates or re-embedding; fencing
//! of a worker that lost its claim; and the API's rules (privacy, validation, deletion).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use oblivious_core::shutdown::Lifecycle;
use oblivious_rag::{IngestSettings, Outcome};
use oblivious_store::{NewChunk, QueuedBy, now_ms};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Harness, INITIAL_BALANCE_MICROS, id};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
/// Dimensions of the mock's vectors.
const DIMS: i64 = 1536;

cases!(
    a_markdown_file_is_indexed_through_the_relay_and_billed_to_its_owner,
    the_background_worker_indexes_a_queued_file,
    an_image_fails_with_a_reason_and_only_a_failed_file_can_be_retried,
    a_worker_that_dies_mid_embedding_is_resumed_without_duplicates_or_re_embedding,
    a_draining_worker_hands_its_job_back_to_the_queue,
    a_worker_whose_lease_ran_out_and_was_taken_over_cannot_write,
    knowledge_bases_are_private_and_their_settings_validated,
    deleting_a_knowledge_base_keeps_its_files_and_deleting_a_file_takes_it_out_of_every_base,
    office_documents_are_indexed_with_their_pages_and_headings_and_a_damaged_one_fails,
    a_file_queued_in_a_lane_is_embedded_through_that_lane,
    a_base_gets_its_vector_index_once_it_is_large_and_its_newest_chunks_are_searched_exactly_until_folded,
    an_indexed_file_is_announced_to_its_owners_webhooks_and_a_failed_one_is_not,
);

/// A Markdown handbook of 6 chapters of 4 paragraphs of ~45 tokens each: with 64-token chunks,
/// one chunk per paragraph (25 in all, with the preface). `tag` makes the content unique (the
/// file API deduplicates identical uploads).
fn handbook(tag: &str) -> String {
    let mut doc = format!("# Handbook {tag}\n\nThe preface of handbook {tag}.\n\n");
    for chapter in 0..6 {
        doc.push_str(&format!("## Chapter {chapter}\n\n"));
        for paragraph in 0..4 {
            doc.push_str(&format!(
                "Paragraph {paragraph} of chapter {chapter} in handbook {tag} explains how the ingestion worker \
                 parses, chunks and embeds a document, so that retrieval can later cite exactly this part. It is \
                 long enough to need a chunk of its own.\n\n"
            ));
        }
    }
    doc
}

/// A knowledge base of small chunks on `model`.
fn small_chunks(name: &str, model: &str) -> Value {
    json!({"name": name, "embedding_model": model, "chunk_tokens": 64, "chunk_overlap": 8})
}

async fn a_markdown_file_is_indexed_through_the_relay_and_billed_to_its_owner(h: Harness) {
    let alice = h.sign_up("alice").await;
    let file = h.upload(&alice, "handbook.md", handbook("A").as_bytes()).await;
    assert_eq!(file["media_type"], "text/markdown");
    let kb = h.knowledge_base(&alice, small_chunks("Docs", "embed")).await;
    assert_eq!(kb["embedding_dims"], Value::Null, "unknown until the first vectors arrive");
    assert_eq!((kb["chunk_tokens"].as_i64(), kb["chunk_overlap"].as_i64()), (Some(64), Some(8)));
    let (kb_id, file_id) = (id(&kb), id(&file));

    let (status, added) = h.add_file(&alice, &kb_id.to_string(), &file_id.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{added}");
    assert_eq!(added["status"], "queued");
    assert_eq!(added["file_id"], file["id"]);
    assert_eq!(added["name"], "handbook.md");
    assert_eq!(added["progress"], json!({"chunks_total": 0, "chunks_embedded": 0}));

    let Some(Outcome::Indexed { chunks }) = h.run_once().await else { panic!("the file was not indexed") };
    assert!(chunks > 1, "a long file with 64-token chunks makes several chunks, not {chunks}");
    assert_eq!(h.run_once().await, None, "nothing is left to do");

    let listed = h.kb_files(&alice, &kb_id.to_string()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "indexed", "{}", listed[0]);
    assert_eq!(listed[0]["error"], Value::Null);
    assert_eq!(listed[0]["progress"], json!({"chunks_total": chunks, "chunks_embedded": chunks}));
    assert_eq!(listed[0]["attempt"], 1);
    let (status, shown) = h.get(&alice, &format!("/api/v1/knowledge-bases/{kb_id}")).await;
    assert_eq!((status, shown["embedding_dims"].as_i64()), (StatusCode::OK, Some(DIMS)), "{shown}");

    let rows = h.chunk_rows(kb_id, file_id).await;
    assert_eq!(rows.iter().map(|(o, _)| *o).collect::<Vec<_>>(), (0..chunks as i64).collect::<Vec<_>>());
    assert!(rows.iter().all(|(_, embedded)| *embedded), "every chunk has its vector");

    // The relay embedded in batches of 4, each input with its heading path in front.
    let batches = h.upstream_embedding_batches().await;
    assert_eq!(batches.len(), chunks.div_ceil(4));
    assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 4));
    let inputs: Vec<&String> = batches.iter().flatten().collect();
    assert_eq!(inputs.len(), chunks);
    assert!(inputs[0].starts_with("Handbook A\n\nThe preface"), "{}", inputs[0]);
    assert!(inputs[1].starts_with("Handbook A > Chapter 0\n\nParagraph 0 of chapter 0"), "{}", inputs[1]);

    // Every embeddings request was the user's, through the internal token, and cost something.
    let logs = h.request_logs(&alice).await;
    let embeddings: Vec<_> = logs.iter().filter(|l| l.endpoint == "embeddings").collect();
    assert_eq!(embeddings.len(), batches.len(), "{logs:#?}");
    for log in &embeddings {
        assert_eq!((log.status, log.model.as_str(), log.user_id), (200, "embed", Some(alice.id)), "{log:#?}");
        assert!(log.cost_micros > 0 && log.input_tokens > 0, "{log:#?}");
        assert_eq!(log.currency.as_deref(), Some("EUR"));
    }
    let cost: i64 = embeddings.iter().map(|l| l.cost_micros).sum();
    let paid = h
        .wait_until("the charges to settle", || async {
            let (_, quota) = h.get(&alice, "/api/v1/user/quota").await;
            let balance = oblivious_runtime::money::parse_decimal_micros(quota["balance"].as_str()?).ok()?;
            (balance < INITIAL_BALANCE_MICROS).then_some(INITIAL_BALANCE_MICROS - balance)
        })
        .await;
    assert!(paid > 0 && paid <= cost + 10_000, "paid {paid} for {cost} (rounded to cents)");
}

async fn the_background_worker_indexes_a_queued_file(h: Harness) {
    let alice = h.sign_up("alice").await;
    let lifecycle = Lifecycle::new();
    let pending = prometheus_client::metrics::gauge::Gauge::<i64>::default();
    pending.set(-1);
    h.ingestor.spawn_worker(lifecycle.clone(), pending.clone());
    let file = h.upload(&alice, "notes.md", handbook("W").as_bytes()).await;
    let kb = h.knowledge_base(&alice, small_chunks("Notes", "embed")).await;
    let kb_id = id(&kb).to_string();
    let (status, _) = h.add_file(&alice, &kb_id, file["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let listed = h
        .wait_until("the worker to index the file", || async {
            let files = h.kb_files(&alice, &kb_id).await;
            (files[0]["status"] == "indexed").then_some(files)
        })
        .await;
    let progress = &listed[0]["progress"];
    assert!(progress["chunks_total"].as_i64().unwrap() > 1);
    assert_eq!(progress["chunks_total"], progress["chunks_embedded"]);
    h.wait_until("the worker to report no pending job", || async { (pending.get() == 0).then_some(()) }).await;
    lifecycle.start_draining();
    tokio::time::timeout(Duration::from_secs(5), lifecycle.jobs_done()).await.expect("the worker stops on drain");
}

async fn an_image_fails_with_a_reason_and_only_a_failed_file_can_be_retried(h: Harness) {
    let alice = h.sign_up("alice").await;
    let image = h.upload(&alice, "photo.png", PNG).await;
    assert_eq!(image["media_type"], "image/png");
    let kb = h.knowledge_base(&alice, small_chunks("Mixed", "embed")).await;
    let kb_id = id(&kb);
    let files_path = format!("/api/v1/knowledge-bases/{kb_id}/files");
    let (status, added) = h.add_file(&alice, &kb_id.to_string(), image["id"].as_str().unwrap()).await;
    assert_eq!((status, added["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")));

    let Some(Outcome::Failed(reason)) = h.run_once().await else { panic!("an image cannot be indexed") };
    assert!(reason.contains("cannot be indexed"), "{reason}");
    let listed = h.kb_files(&alice, &kb_id.to_string()).await;
    assert_eq!(listed[0]["status"], "failed");
    assert_eq!(listed[0]["error"].as_str(), Some(reason.as_str()), "the reason is shown on the file");
    assert_eq!(listed[0]["progress"], json!({"chunks_total": 0, "chunks_embedded": 0}));
    assert!(h.chunk_rows(kb_id, id(&image)).await.is_empty(), "no chunks");
    assert!(h.upstream_embedding_batches().await.is_empty(), "nothing was embedded");
    assert_eq!(h.run_once().await, None, "a failed file is not picked up again by itself");

    let retry = format!("{files_path}/{}/retry", image["id"].as_str().unwrap());
    let (status, retried) = h.post(&alice, &retry, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!((retried["status"].as_str(), &retried["error"]), (Some("queued"), &Value::Null));
    let (status, again) = h.post(&alice, &retry, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a queued file is not retried: {again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("queued"), "{again}");
    let Some(Outcome::Failed(_)) = h.run_once().await else { panic!("still an image") };
    assert_eq!(h.kb_files(&alice, &kb_id.to_string()).await[0]["attempt"], 2);

    // An indexed file cannot be retried; an unknown one is not found.
    let text = h.upload(&alice, "text.md", handbook("R").as_bytes()).await;
    let (status, _) = h.add_file(&alice, &kb_id.to_string(), text["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let Some(Outcome::Indexed { .. }) = h.run_once().await else { panic!("the text was not indexed") };
    let (status, refused) =
        h.post(&alice, &format!("{files_path}/{}/retry", text["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("indexed"), "{refused}");
    let (status, _) = h.post(&alice, &format!("{files_path}/{}/retry", uuid::Uuid::now_v7()), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_worker_that_dies_mid_embedding_is_resumed_without_duplicates_or_re_embedding(h: Harness) {
    let alice = h.sign_up("alice").await;
    let file = h.upload(&alice, "long.md", handbook("C").as_bytes()).await;
    let kb = h.knowledge_base(&alice, small_chunks("Slow", "embed-slow")).await;
    let (kb_id, file_id) = (id(&kb), id(&file));
    let (status, _) = h.add_file(&alice, &kb_id.to_string(), &file_id.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // A worker embedding 2 chunks per request, each request taking 300 ms, dies after its first
    // batch was stored (most likely with the second one in flight).
    let batch = 2;
    let settings = IngestSettings { lease: Duration::from_millis(1500), batch, ..support::settings() };
    let doomed = h.ingestor(settings);
    let lifecycle = Lifecycle::new();
    let task = tokio::spawn({
        let lifecycle = lifecycle.clone();
        async move { doomed.run_once(&lifecycle).await }
    });
    let progress = h
        .wait_until("the first batch", || async {
            let job = h.store.knowledge_file(alice.id, kb_id, file_id).await.unwrap()?;
            (job.chunks_embedded >= 2).then_some(job)
        })
        .await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled(), "the worker died before it finished");
    assert_eq!(progress.status, "embedding");
    let total = progress.chunks_total as usize;
    assert!(total > 3 * batch, "the file takes many batches, not {total} chunks");
    assert!((progress.chunks_embedded as usize) < total);

    // Its lease holds a while: nobody takes the job over yet.
    let successor = h.ingestor(settings);
    assert_eq!(successor.run_once(&lifecycle).await.unwrap(), None, "the dead worker's lease still holds");
    tokio::time::sleep(settings.lease + Duration::from_millis(200)).await;

    let before = h.chunk_rows(kb_id, file_id).await;
    let embedded_before = before.iter().filter(|(_, e)| *e).count();
    assert_eq!(before.len(), total, "the dead worker stored every chunk before embedding");
    assert!(embedded_before >= 2 && embedded_before < total, "{embedded_before} of {total}");
    let inputs_before: usize = h.upstream_embedding_batches().await.iter().map(Vec::len).sum();

    let outcome = successor.run_once(&lifecycle).await.unwrap();
    assert_eq!(outcome, Some(Outcome::Indexed { chunks: total }));

    let job = h.store.knowledge_file(alice.id, kb_id, file_id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.error), ("indexed", None));
    assert_eq!((job.chunks_total as usize, job.chunks_embedded as usize, job.attempt), (total, total, 2));
    let rows = h.chunk_rows(kb_id, file_id).await;
    assert_eq!(
        rows.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        (0..total as i64).collect::<Vec<_>>(),
        "no duplicates"
    );
    assert!(rows.iter().all(|(_, embedded)| *embedded));
    assert_eq!(h.store.embedded_chunk_count(kb_id, file_id).await.unwrap() as usize, total);

    // The successor embedded exactly what was missing; overall at most one batch was sent twice
    // (the one in flight when the first worker died).
    let batches = h.upstream_embedding_batches().await;
    let inputs: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(inputs - inputs_before, total - embedded_before, "finished batches were not embedded again");
    assert!(inputs >= total && inputs <= total + batch, "{inputs} inputs for {total} chunks");
}

async fn a_draining_worker_hands_its_job_back_to_the_queue(h: Harness) {
    let alice = h.sign_up("alice").await;
    let file = h.upload(&alice, "drain.md", handbook("D").as_bytes()).await;
    let kb = h.knowledge_base(&alice, small_chunks("Drain", "embed")).await;
    let (kb_id, file_id) = (id(&kb), id(&file));
    h.add_file(&alice, &kb_id.to_string(), &file_id.to_string()).await;

    let draining = Lifecycle::new();
    draining.start_draining();
    assert_eq!(h.ingestor.run_once(&draining).await.unwrap(), Some(Outcome::Requeued));
    let job = h.store.knowledge_file(alice.id, kb_id, file_id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.attempt), ("queued", 1));
    assert!(h.upstream_embedding_batches().await.is_empty(), "nothing was embedded while draining");

    let Some(Outcome::Indexed { chunks }) = h.run_once().await else { panic!("the requeued job was not resumed") };
    assert_eq!(h.chunk_rows(kb_id, file_id).await.len(), chunks);
    assert_eq!(h.kb_files(&alice, &kb_id.to_string()).await[0]["attempt"], 2);
}

async fn a_worker_whose_lease_ran_out_and_was_taken_over_cannot_write(h: Harness) {
    let alice = h.sign_up("alice").await;
    let file = h.upload(&alice, "fenced.md", b"# Fenced\n\nSome text.\n").await;
    let kb = h.knowledge_base(&alice, small_chunks("Fenced", "embed")).await;
    let (kb_id, file_id) = (id(&kb), id(&file));
    h.add_file(&alice, &kb_id.to_string(), &file_id.to_string()).await;
    let store = &h.store;

    let t0 = now_ms();
    let old = store.claim_ingestion(t0, t0 + 1_000).await.unwrap().expect("a queued job");
    assert_eq!((old.kb_id, old.file_id, old.user_id, old.attempt), (kb_id, file_id, alice.id, 1));
    assert_eq!(store.claim_ingestion(t0 + 500, t0 + 1_500).await.unwrap(), None, "the lease holds");
    let new = store.claim_ingestion(t0 + 2_000, t0 + 3_000).await.unwrap().expect("the expired job");
    assert_eq!((new.kb_id, new.file_id, new.attempt), (kb_id, file_id, 2));

    let chunk = |ordinal: i32, text: &str| NewChunk {
        ordinal,
        text: text.into(),
        tokens: 2,
        heading: "Fenced".into(),
        page: None,
    };
    let three = [chunk(0, "zero"), chunk(1, "one"), chunk(2, "two")];
    assert!(!store.upsert_chunks(&old, &three).await.unwrap(), "the old claim cannot write chunks");
    assert!(h.chunk_rows(kb_id, file_id).await.is_empty());
    assert!(store.upsert_chunks(&new, &three).await.unwrap());
    assert_eq!(h.chunk_rows(kb_id, file_id).await, vec![(0, false), (1, false), (2, false)]);
    assert!(!store.upsert_chunks(&old, &three[..1]).await.unwrap(), "nor trim them");
    assert_eq!(h.chunk_rows(kb_id, file_id).await.len(), 3);

    let pending = store.unembedded_chunks(kb_id, file_id, 10).await.unwrap();
    assert_eq!(pending.len(), 3);
    let vectors: Vec<_> = pending.iter().map(|c| (c.id, vec![0.6, 0.8])).collect();
    assert!(!store.store_embeddings(&old, &vectors).await.unwrap(), "the old claim cannot store vectors");
    assert_eq!(store.embedded_chunk_count(kb_id, file_id).await.unwrap(), 0);
    assert!(!store.ingestion_progress(&old, "embedding", 3, 3, t0 + 9_000, t0 + 2_100).await.unwrap());
    assert!(!store.finish_ingestion(&old, None, t0 + 2_200).await.unwrap(), "nor finish the job");
    assert!(!store.finish_ingestion(&old, Some("boom"), t0 + 2_200).await.unwrap(), "nor fail it");
    let job = store.knowledge_file(alice.id, kb_id, file_id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.error, job.chunks_total, job.attempt), ("parsing", None, 0, 2));

    // The new claim writes; once it finished, even it cannot (the job is over).
    assert!(store.ingestion_progress(&new, "embedding", 3, 0, t0 + 3_000, t0 + 2_100).await.unwrap());
    assert!(store.store_embeddings(&new, &vectors).await.unwrap());
    assert_eq!(store.embedded_chunk_count(kb_id, file_id).await.unwrap(), 3);
    assert!(store.finish_ingestion(&new, None, t0 + 2_300).await.unwrap());
    assert!(!store.upsert_chunks(&new, &[]).await.unwrap(), "a finished job's chunks stay");
    assert!(!store.finish_ingestion(&new, Some("late"), t0 + 2_400).await.unwrap());
    assert_eq!(h.chunk_rows(kb_id, file_id).await, vec![(0, true), (1, true), (2, true)]);
    let job = store.knowledge_file(alice.id, kb_id, file_id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.error), ("indexed", None));
    assert_eq!(store.claim_ingestion(t0 + 10_000, t0 + 11_000).await.unwrap(), None, "an indexed job is done");
}

async fn knowledge_bases_are_private_and_their_settings_validated(h: Harness) {
    let alice = h.sign_up("alice").await;
    let bob = h.sign_up("bob").await;
    let kb = h.knowledge_base(&alice, json!({"name": "Private", "embedding_model": "embed"})).await;
    assert_eq!(
        (kb["chunk_tokens"].as_i64(), kb["chunk_overlap"].as_i64(), kb["top_k"].as_i64()),
        (Some(512), Some(64), Some(5)),
        "defaults: {kb}"
    );
    let kb_id = id(&kb);
    let base = format!("/api/v1/knowledge-bases/{kb_id}");
    let alices_file = h.upload(&alice, "a.md", handbook("P").as_bytes()).await;
    let bobs_file = h.upload(&bob, "b.md", handbook("Q").as_bytes()).await;
    let (alices_file_id, bobs_file_id) = (alices_file["id"].as_str().unwrap(), bobs_file["id"].as_str().unwrap());
    let (status, _) = h.add_file(&alice, &kb_id.to_string(), alices_file_id).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Another user's knowledge base does not exist for bob.
    assert_eq!(h.get(&bob, &base).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.patch(&bob, &base, json!({"name": "Mine"})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.get(&bob, &format!("{base}/files")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.add_file(&bob, &kb_id.to_string(), bobs_file_id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.delete(&bob, &format!("{base}/files/{alices_file_id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.post(&bob, &format!("{base}/files/{alices_file_id}/retry"), json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.delete(&bob, &base).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.get(&bob, "/api/v1/knowledge-bases").await.1["data"], json!([]));
    let (status, mine) = h.get(&alice, &base).await;
    assert_eq!((status, &mine["name"]), (StatusCode::OK, &json!("Private")), "bob changed nothing");
    assert_eq!(h.kb_files(&alice, &kb_id.to_string()).await.len(), 1);

    // Files: only the caller's own, once.
    let (status, error) = h.add_file(&alice, &kb_id.to_string(), bobs_file_id).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(h.add_file(&alice, &kb_id.to_string(), &unknown).await.0, StatusCode::NOT_FOUND);
    let (status, error) = h.add_file(&alice, &kb_id.to_string(), alices_file_id).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    assert_eq!(h.kb_files(&alice, &kb_id.to_string()).await.len(), 1);

    // Invalid settings are refused naming the field.
    let invalid = [
        (json!({"name": "x", "embedding_model": "embed", "chunk_tokens": 10}), "chunk_tokens"),
        (json!({"name": "x", "embedding_model": "embed", "chunk_tokens": 100_000}), "chunk_tokens"),
        (json!({"name": "x", "embedding_model": "embed", "chunk_tokens": 100, "chunk_overlap": 51}), "chunk_overlap"),
        (json!({"name": "x", "embedding_model": "embed", "chunk_overlap": -1}), "chunk_overlap"),
        (json!({"name": "x", "embedding_model": "embed", "top_k": 0}), "top_k"),
        (json!({"name": "x", "embedding_model": "embed", "top_k": 51}), "top_k"),
        (json!({"name": "x", "embedding_model": "embed", "score_threshold": 2}), "score_threshold"),
        (json!({"name": "x", "embedding_model": "embed", "vector_weight": -0.5}), "vector_weight"),
        (json!({"name": " ", "embedding_model": "embed"}), "name"),
        (json!({"embedding_model": "embed"}), "name"),
        (json!({"name": "x", "embedding_model": "no-such-model"}), "embedding_model"),
        (json!({"name": "x"}), "embedding_model"),
        (json!({"name": "x", "embedding_model": "embed", "colour": "red"}), "colour"),
    ];
    for (body, field) in invalid {
        let (status, error) = h.post(&alice, "/api/v1/knowledge-bases", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        assert_eq!(error["error"]["code"], "invalid_request", "{body} -> {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(field), "{body} -> {error} should name {field}");
    }
    assert_eq!(h.get(&alice, "/api/v1/knowledge-bases").await.1["data"].as_array().unwrap().len(), 1, "none created");
    // What a new base can embed with: models named so, reached through an OpenAI-family channel.
    let (status, offered) = h.get(&alice, "/api/v1/knowledge-bases/embedding-models").await;
    assert_eq!((status, offered["data"].clone()), (StatusCode::OK, json!(["embed", "embed-slow"])));

    // PATCH changes what may change, keeps the rest, and never the embedding model.
    let (status, error) = h.patch(&alice, &base, json!({"embedding_model": "embed-slow"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("embedding_model"), "{error}");
    let (status, error) = h.patch(&alice, &base, json!({"chunk_overlap": 300})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "more than half of the current 512 tokens: {error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("chunk_overlap"), "{error}");
    assert_eq!(h.patch(&alice, &base, json!({"score_threshold": 1.5})).await.0, StatusCode::BAD_REQUEST);
    let (status, changed) = h
        .patch(
            &alice,
            &base,
            json!({"name": "Renamed", "embedding_model": "embed", "top_k": 8, "score_threshold": 0.25}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (_, shown) = h.get(&alice, &base).await;
    assert_eq!(shown, changed);
    assert_eq!(
        (shown["name"].as_str(), shown["embedding_model"].as_str(), shown["top_k"].as_i64()),
        (Some("Renamed"), Some("embed"), Some(8))
    );
    assert_eq!((shown["score_threshold"].as_f64(), shown["chunk_tokens"].as_i64()), (Some(0.25), Some(512)));
}

async fn deleting_a_knowledge_base_keeps_its_files_and_deleting_a_file_takes_it_out_of_every_base(h: Harness) {
    let alice = h.sign_up("alice").await;
    let first = h.upload(&alice, "first.md", handbook("F").as_bytes()).await;
    let second = h.upload(&alice, "second.md", handbook("S").as_bytes()).await;
    let (first_id, second_id) = (id(&first), id(&second));
    let one = id(&h.knowledge_base(&alice, small_chunks("One", "embed")).await);
    let two = id(&h.knowledge_base(&alice, small_chunks("Two", "embed")).await);
    for (kb, file) in [(one, first_id), (two, first_id), (two, second_id)] {
        let (status, _) = h.add_file(&alice, &kb.to_string(), &file.to_string()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    for _ in 0..3 {
        let Some(Outcome::Indexed { .. }) = h.run_once().await else { panic!("not indexed") };
    }
    let per_file = h.chunk_rows(one, first_id).await.len() as i64;
    assert_ne!(h.vector_index_exists(one).await, Some(false), "PostgreSQL: each base has its vector index");
    assert!(per_file > 1);
    assert_eq!(h.chunk_count(two).await, 2 * per_file, "both handbooks have the same shape");

    // Taking a file out of a base removes its chunks there only.
    let path = format!("/api/v1/knowledge-bases/{two}/files/{second_id}");
    assert_eq!(h.delete(&alice, &path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(h.delete(&alice, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.chunk_count(two).await, per_file);
    assert_eq!(h.get(&alice, &format!("/api/v1/files/{second_id}")).await.0, StatusCode::OK, "the file stays");

    // Deleting a base removes its index, not its files, nor another base's chunks.
    assert_eq!(h.delete(&alice, &format!("/api/v1/knowledge-bases/{one}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(h.chunk_count(one).await, 0, "the base's chunks are gone with it");
    assert_ne!(h.vector_index_exists(one).await, Some(true), "and so is its vector index");
    assert_ne!(h.vector_index_exists(two).await, Some(false));
    assert_eq!(h.get(&alice, &format!("/api/v1/knowledge-bases/{one}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.delete(&alice, &format!("/api/v1/knowledge-bases/{one}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.get(&alice, &format!("/api/v1/files/{first_id}")).await.0, StatusCode::OK, "the file stays");
    assert_eq!(h.chunk_count(two).await, per_file, "the other base is untouched");

    // Deleting the file itself takes it out of every base, with its chunks.
    assert_eq!(h.delete(&alice, &format!("/api/v1/files/{first_id}")).await.0, StatusCode::NO_CONTENT);
    assert!(h.kb_files(&alice, &two.to_string()).await.is_empty());
    assert_eq!(h.chunk_count(two).await, 0);
    let (status, _) = h.get(&alice, &format!("/api/v1/knowledge-bases/{two}")).await;
    assert_eq!(status, StatusCode::OK, "the base stays, empty");
}

/// The documents `tests/fixtures/make_fixtures.py` writes.
fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

async fn office_documents_are_indexed_with_their_pages_and_headings_and_a_damaged_one_fails(h: Harness) {
    let alice = h.sign_up("alice").await;
    let kb = h.knowledge_base(&alice, small_chunks("Office", "embed")).await;
    let kb_id = id(&kb).to_string();
    let pdf = h.upload(&alice, "handbook.pdf", &fixture("handbook.pdf")).await;
    let docx = h.upload(&alice, "sheet.docx", &fixture("handbook.docx")).await;
    assert_eq!(pdf["media_type"], "application/pdf");
    assert_eq!(docx["media_type"], "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    for file in [&pdf, &docx] {
        assert_eq!(h.add_file(&alice, &kb_id, file["id"].as_str().unwrap()).await.0, StatusCode::ACCEPTED);
    }
    for _ in 0..2 {
        let outcome = h.run_once().await;
        assert!(matches!(outcome, Some(Outcome::Indexed { .. })), "{outcome:?}");
    }

    let path = format!("/api/v1/knowledge-bases/{kb_id}/search");
    let search = |query: &str| h.post(&alice, &path, json!({"query": query, "mode": "text", "top_k": 1}));
    // A PDF's chunks carry their page; a DOCX's their heading (found through styles.xml).
    let shipping = search("Lyon warehouse").await.1["data"][0].clone();
    assert_eq!((shipping["file_name"].as_str(), shipping["page"].as_i64()), (Some("handbook.pdf"), Some(2)));
    let refunds = search("fourteen days").await.1["data"][0].clone();
    assert_eq!(refunds["page"], 1, "{refunds}");
    let warranty = search("warranty years").await.1["data"][0].clone();
    assert_eq!(
        (warranty["file_name"].as_str(), warranty["heading"].as_str()),
        (Some("sheet.docx"), Some("Product sheet > Warranty"))
    );
    assert!(warranty["text"].as_str().unwrap().contains("ten years"), "{warranty}");
    let sizes = search("capacity kWh").await.1["data"][0].clone();
    assert!(sizes["text"].as_str().unwrap().contains("Cell 10 | 10 kWh"), "a table row is one line: {sizes}");

    // A PDF cut off after its first object fails with a reason and leaves no chunks.
    let damaged = h.upload(&alice, "damaged.pdf", &fixture("damaged.pdf")).await;
    assert_eq!(damaged["media_type"], "application/pdf");
    h.add_file(&alice, &kb_id, damaged["id"].as_str().unwrap()).await;
    let Some(Outcome::Failed(reason)) = h.run_once().await else { panic!("a damaged PDF cannot be indexed") };
    assert!(reason.contains("PDF"), "{reason}");
    assert!(h.chunk_rows(id(&kb), id(&damaged)).await.is_empty(), "no chunks of the damaged file");
}

async fn a_file_queued_in_a_lane_is_embedded_through_that_lane(h: Harness) {
    let alice = h.sign_up("alice").await;
    let kb = h.knowledge_base(&alice, small_chunks("Canary", "embed")).await;
    let file = h.upload(&alice, "handbook.md", handbook("L").as_bytes()).await;
    // As the API queues it for a request of lane `canary` (the tag is kept on the job).
    assert!(
        h.store
            .add_knowledge_file(
                alice.id,
                id(&kb),
                id(&file),
                QueuedBy { lane: Some("canary"), traceparent: None },
                now_ms()
            )
            .await
            .unwrap()
    );
    let Some(Outcome::Indexed { .. }) = h.run_once().await else { panic!("not indexed") };
    let logs = h.request_logs(&alice).await;
    let embeddings: Vec<_> = logs.iter().filter(|l| l.endpoint == "embeddings").collect();
    assert!(!embeddings.is_empty());
    assert!(embeddings.iter().all(|l| l.lane.as_deref() == Some("canary")), "{embeddings:#?}");
}

async fn a_base_gets_its_vector_index_once_it_is_large_and_its_newest_chunks_are_searched_exactly_until_folded(
    h: Harness,
) {
    let alice = h.sign_up("alice").await;
    let kb = h.knowledge_base(&alice, small_chunks("Growing", "embed")).await;
    let kb_id = id(&kb);
    // Each handbook is 25 chunks: a fold once 26 chunks are past the index (and a tenth of it).
    let ingestor = h.ingestor(IngestSettings { index_after_vectors: 26, ..support::settings() });
    let add = |tag: &'static str| {
        let (h, alice, ingestor) = (&h, &alice, ingestor.clone());
        async move {
            let file = h.upload(alice, &format!("{tag}.md"), handbook(tag).as_bytes()).await;
            h.add_file(alice, &kb_id.to_string(), file["id"].as_str().unwrap()).await;
            let Some(Outcome::Indexed { chunks }) = ingestor.run_once(&h.lifecycle).await.unwrap() else { panic!() };
            assert_eq!(chunks, 25);
            file
        }
    };
    // The base's indexes by name, checked on PostgreSQL (SQLite has none).
    let expect_indexes = |expected: &'static [u32], why: &'static str| {
        let h = &h;
        async move {
            if let Some(indexes) = h.vector_indexes(kb_id).await {
                let names: Vec<String> = indexes.into_iter().map(|(name, _)| name).collect();
                let expected: Vec<String> =
                    expected.iter().map(|generation| format!("chunks_hnsw_{}_{generation}", kb_id.simple())).collect();
                assert_eq!(names, expected, "{why}");
            }
        }
    };
    let search_files = |query: &'static str| {
        let (h, alice) = (&h, &alice);
        async move {
            let path = format!("/api/v1/knowledge-bases/{kb_id}/search");
            let (status, page) = h.post(alice, &path, json!({"query": query, "mode": "vector"})).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["file_name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let base = format!("chunks_hnsw_{}", kb_id.simple());

    add("A").await;
    expect_indexes(&[], "no index below the threshold").await;
    assert!(search_files("chapter 3 handbook A").await.iter().all(|f| f == "A.md"), "searched exactly without one");
    add("B").await;
    expect_indexes(&[1], "indexed past the threshold").await;

    // The next file lands past the index's fence: in no graph, found by the exact scan beside it.
    let c = add("C").await;
    expect_indexes(&[1], "25 chunks past the fence: no fold yet").await;
    let found = search_files("chapter 3 handbook C").await;
    assert!(!found.is_empty() && found.iter().all(|f| f == "C.md"), "{found:?}");
    if let Some(state) = h.store.vector_index_state(kb_id).await.unwrap() {
        assert_eq!((state.indexed, state.tail), (50, 25));
        // The graph's leg of a search walks the index: its predicate is the one the index has.
        let upto = state.upto.expect("a fence");
        let probe = format!("'[{}]'", vec!["0.1"; 1536].join(","));
        let sql = oblivious_store::knowledge_search::nearest_sql(kb_id, 1536, Some(upto))
            .replace("$1", &probe)
            .replace("$2", "5");
        let plan = h.explain(&sql).await.unwrap().replace(&probe, "$1");
        assert!(plan.contains(&format!("Index Scan using {base}_1")), "{plan}");
        assert!(plan.contains("chunks_kb_tail"), "the tail is found through its own index: {plan}");
        let (_, definition) = h.vector_indexes(kb_id).await.unwrap().remove(0);
        assert!(definition.contains(&format!("id <= '{upto}'::uuid")), "{definition}");
    }

    // Another file makes the tail large enough: the next index takes every chunk, the old goes.
    add("D").await;
    expect_indexes(&[2], "folded into a new index, the old dropped").await;
    if let Some(state) = h.store.vector_index_state(kb_id).await.unwrap() {
        assert_eq!((state.indexed, state.tail), (100, 0));
    }
    let found = search_files("chapter 3 handbook C").await;
    assert!(!found.is_empty() && found.iter().all(|f| f == "C.md"), "{found:?}");

    // Taking a file out and deleting the base leave no index behind.
    let path = format!("/api/v1/knowledge-bases/{kb_id}/files/{}", c["id"].as_str().unwrap());
    assert_eq!(h.delete(&alice, &path).await.0, StatusCode::NO_CONTENT);
    assert!(search_files("chapter 3 handbook C").await.iter().all(|f| f != "C.md"), "its chunks are gone");
    assert_eq!(h.delete(&alice, &format!("/api/v1/knowledge-bases/{kb_id}")).await.0, StatusCode::NO_CONTENT);
    expect_indexes(&[], "no index outlives its base").await;
}

async fn an_indexed_file_is_announced_to_its_owners_webhooks_and_a_failed_one_is_not(h: Harness) {
    let alice = h.sign_up("alice").await;
    let bob = h.sign_up("bob").await;
    let hook = |user_id| oblivious_store::WebhookRecord {
        id: uuid::Uuid::now_v7(),
        user_id: Some(user_id),
        url: "https://hooks.example.com/in".into(),
        secret: "whsec_dGVzdA==".into(),
        event_types: vec!["file.indexed".into()],
        description: String::new(),
        enabled: true,
        created_at: now_ms(),
        updated_at: now_ms(),
    };
    let (alices, bobs) = (hook(alice.id), hook(bob.id));
    h.store.create_webhook(&alices).await.unwrap();
    h.store.create_webhook(&bobs).await.unwrap();
    let kb = h.knowledge_base(&alice, small_chunks("Docs", "embed")).await;
    let file = h.upload(&alice, "notes.md", handbook("W").as_bytes()).await;
    let image = h.upload(&alice, "photo.png", PNG).await;
    h.add_file(&alice, &id(&kb).to_string(), &id(&file).to_string()).await;
    let Some(Outcome::Indexed { chunks }) = h.run_once().await else { panic!("the file was not indexed") };
    h.add_file(&alice, &id(&kb).to_string(), &id(&image).to_string()).await;
    assert!(matches!(h.run_once().await, Some(Outcome::Failed(_))));

    let [delivery] = h.store.webhook_deliveries(alices.id, 10, None).await.unwrap().try_into().unwrap();
    assert_eq!((delivery.event_type.as_str(), delivery.status.as_str()), ("file.indexed", "pending"));
    let event: Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["id"].as_str()),
        (Some("file.indexed"), Some(delivery.event_id.to_string().as_str()))
    );
    let expected = json!({
        "user_id": alice.id, "knowledge_base_id": kb["id"], "file_id": file["id"], "name": "notes.md", "chunks": chunks,
    });
    assert_eq!(event["data"], expected);
    assert!(h.store.webhook_deliveries(bobs.id, 10, None).await.unwrap().is_empty(), "never another user's file");
}
