//! Retrieval over real HTTP, on SQLite and on PostgreSQL (pgvector HNSW per knowledge base):
//! `POST /api/v1/knowledge-bases/{id}/search` fuses the vector and full-text legs, cites the file,
//! heading and passage, applies the threshold last, and never returns another base's chunks. The
//! mock's embeddings are lexical (hashed words), so which chunk answers a question is knowable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Harness, User};

cases!(
    a_question_finds_the_passage_that_answers_it_with_its_citation,
    the_threshold_is_applied_last_and_the_weight_shifts_between_legs,
    a_search_never_returns_another_bases_or_users_chunks,
    a_mode_runs_one_leg_alone,
    a_rerank_model_reorders_the_candidates_and_a_failing_one_is_skipped,
    a_search_sees_every_vector_written_or_removed_before_it,
);

const POLICIES: &str = "# Policies\n\n## Refunds\n\nRefunds are paid within fourteen days of the return.\n\n\
## Shipping\n\nParcels ship from the Lyon warehouse every weekday.\n\n\
## Support\n\nThe support desk answers email around the clock.\n";

const WEATHER: &str = "# Weather\n\n## Forecast\n\nSunny mornings and light wind all week.\n";

/// A knowledge base holding `files` (name, content), indexed.
async fn indexed(h: &Harness, user: &User, settings: Value, files: &[(&str, &str)]) -> String {
    let mut body = json!({"name": "kb", "embedding_model": "embed", "chunk_tokens": 64, "chunk_overlap": 0});
    body.as_object_mut().unwrap().extend(settings.as_object().unwrap().clone());
    let kb = h.knowledge_base(user, body).await;
    let kb_id = kb["id"].as_str().unwrap().to_string();
    for (name, content) in files {
        let file = h.upload(user, name, content.as_bytes()).await;
        assert_eq!(h.add_file(user, &kb_id, file["id"].as_str().unwrap()).await.0, StatusCode::ACCEPTED);
        assert!(matches!(h.run_once().await, Some(oblivious_rag::Outcome::Indexed { .. })));
    }
    kb_id
}

async fn search(h: &Harness, user: &User, kb: &str, query: &str) -> Vec<Value> {
    let (status, page) = h.post(user, &format!("/api/v1/knowledge-bases/{kb}/search"), json!({"query": query})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().clone()
}

async fn a_question_finds_the_passage_that_answers_it_with_its_citation(h: Harness) {
    let user = h.sign_up("alice").await;
    let kb = indexed(&h, &user, json!({}), &[("policies.md", POLICIES), ("weather.md", WEATHER)]).await;
    let hits = search(&h, &user, &kb, "How many days until refunds are paid?").await;
    let best = &hits[0];
    assert!(best["text"].as_str().unwrap().contains("fourteen days"), "{hits:#?}");
    assert_eq!(best["file_name"], "policies.md");
    assert_eq!(best["heading"], "Policies > Refunds");
    assert_eq!((best["vector_rank"].as_u64(), best["text_rank"].as_u64()), (Some(1), Some(1)), "both legs agree");
    assert!(best["similarity"].as_f64().unwrap() > 0.3);
    assert!(hits.windows(2).all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()), "best first");

    let (status, error) = h.post(&user, &format!("/api/v1/knowledge-bases/{kb}/search"), json!({"query": " "})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    // The question's embedding is billed to the user like the documents'.
    let logs = h.request_logs(&user).await;
    assert!(logs.iter().filter(|l| l.endpoint == "embeddings").count() >= 3);
}

async fn the_threshold_is_applied_last_and_the_weight_shifts_between_legs(h: Harness) {
    let user = h.sign_up("bob").await;
    let strict = indexed(&h, &user, json!({"score_threshold": 0.3}), &[("policies.md", POLICIES)]).await;
    let hits = search(&h, &user, &strict, "refunds paid days").await;
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|hit| hit["similarity"].as_f64().unwrap() >= 0.3), "{hits:#?}");
    assert!(search(&h, &user, &strict, "volcanic eruptions").await.is_empty(), "nothing relevant, nothing returned");

    // Text only: a word found in one chunk ranks it first even if vectors would not.
    let text_only =
        indexed(&h, &user, json!({"vector_weight": 0.0}), &[("policies2.md", &POLICIES.replace("Policies", "Rules"))])
            .await;
    let hits = search(&h, &user, &text_only, "Lyon").await;
    assert!(hits[0]["text"].as_str().unwrap().contains("Lyon"));
    assert_eq!(hits[0]["text_rank"], 1);
}

async fn a_search_never_returns_another_bases_or_users_chunks(h: Harness) {
    let alice = h.sign_up("alice").await;
    let bob = h.sign_up("bob").await;
    let policies = indexed(&h, &alice, json!({}), &[("policies.md", POLICIES)]).await;
    let weather = indexed(&h, &alice, json!({}), &[("weather.md", WEATHER)]).await;
    let hits = search(&h, &alice, &weather, "refunds paid within fourteen days").await;
    assert!(hits.iter().all(|hit| hit["knowledge_base_id"] == weather), "{hits:#?}");
    assert!(hits.iter().all(|hit| !hit["text"].as_str().unwrap().contains("Refunds")));
    let (status, _) =
        h.post(&bob, &format!("/api/v1/knowledge-bases/{policies}/search"), json!({"query": "refunds"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_mode_runs_one_leg_alone(h: Harness) {
    let user = h.sign_up("carol").await;
    let kb = indexed(&h, &user, json!({}), &[("policies.md", POLICIES), ("weather.md", WEATHER)]).await;
    let path = format!("/api/v1/knowledge-bases/{kb}/search");
    let query = "Lyon warehouse";
    let (_, vector) = h.post(&user, &path, json!({"query": query, "mode": "vector"})).await;
    let vector = vector["data"].as_array().unwrap().clone();
    assert!(!vector.is_empty());
    assert!(vector.iter().all(|hit| hit["text_rank"].is_null() && hit["vector_rank"].is_u64()), "{vector:#?}");
    let (_, text) = h.post(&user, &path, json!({"query": query, "mode": "text"})).await;
    let text = text["data"].as_array().unwrap().clone();
    assert!(text[0]["text"].as_str().unwrap().contains("Lyon"));
    assert!(text.iter().all(|hit| hit["vector_rank"].is_null() && hit["text_rank"].is_u64()), "{text:#?}");
    let (status, error) = h.post(&user, &path, json!({"query": query, "mode": "both"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

async fn a_rerank_model_reorders_the_candidates_and_a_failing_one_is_skipped(h: Harness) {
    let user = h.sign_up("erin").await;
    let kb = indexed(&h, &user, json!({"rerank_model": "rr"}), &[("policies.md", POLICIES)]).await;
    // The mock reranker scores the share of the question's words a passage holds.
    let hits = search(&h, &user, &kb, "support desk email").await;
    assert!(hits[0]["text"].as_str().unwrap().contains("support desk"), "{hits:#?}");
    assert_eq!(hits[0]["rerank_score"], 1.0);
    let scores: Vec<f64> = hits.iter().map(|hit| hit["rerank_score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "in the reranker's order: {scores:?}");
    // Billed to the user like the question's embedding.
    let logs = h.request_logs(&user).await;
    let rerank = logs.iter().find(|l| l.endpoint == "rerank").expect("a rerank request");
    assert_eq!(rerank.model, "rr");
    assert!(rerank.cost_micros > 0);

    // A reranker that fails leaves the fused order; an unknown one is refused; "" turns it off.
    let path = format!("/api/v1/knowledge-bases/{kb}");
    assert_eq!(h.patch(&user, &path, json!({"rerank_model": "rr-down"})).await.0, StatusCode::OK);
    let hits = search(&h, &user, &kb, "support desk email").await;
    assert!(!hits.is_empty() && hits.iter().all(|hit| hit["rerank_score"].is_null()), "{hits:#?}");
    let (status, error) = h.patch(&user, &path, json!({"rerank_model": "no-such-model"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().contains("rerank_model"), "{error}");
    let (status, cleared) = h.patch(&user, &path, json!({"rerank_model": ""})).await;
    assert_eq!((status, &cleared["rerank_model"]), (StatusCode::OK, &Value::Null));
}

/// SQLite searches a matrix of the base's vectors held in memory: it must follow every write.
async fn a_search_sees_every_vector_written_or_removed_before_it(h: Harness) {
    let user = h.sign_up("fay").await;
    let kb = indexed(&h, &user, json!({"vector_weight": 1.0}), &[("policies.md", POLICIES)]).await;
    let files_of =
        |hits: &[Value]| hits.iter().map(|hit| hit["file_name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(!files_of(&search(&h, &user, &kb, "sunny mornings light wind").await).contains(&"weather.md".to_string()));

    let weather = h.upload(&user, "weather.md", WEATHER.as_bytes()).await;
    assert_eq!(h.add_file(&user, &kb, weather["id"].as_str().unwrap()).await.0, StatusCode::ACCEPTED);
    assert!(matches!(h.run_once().await, Some(oblivious_rag::Outcome::Indexed { .. })));
    let hits = search(&h, &user, &kb, "sunny mornings light wind").await;
    assert_eq!(hits[0]["file_name"], "weather.md", "the new file's vectors are searched: {hits:#?}");

    let path = format!("/api/v1/knowledge-bases/{kb}/files/{}", weather["id"].as_str().unwrap());
    assert_eq!(h.delete(&user, &path).await.0, StatusCode::NO_CONTENT);
    let hits = search(&h, &user, &kb, "sunny mornings light wind").await;
    assert!(!files_of(&hits).contains(&"weather.md".to_string()), "a removed file's vectors are gone: {hits:#?}");
}
