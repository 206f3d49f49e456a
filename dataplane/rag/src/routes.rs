//! `/api/v1/knowledge-bases`: a user's knowledge bases and the files in them, each with its
//! ingestion status and progress. One table builds the router and the OpenAPI entries.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use oblivious_core::telemetry::propagation;
use oblivious_gateway::{ApiResult, Body, ProductError, RouteDoc, UserIdentity, schema_object};
use oblivious_store::{KnowledgeBase, KnowledgeFile, QueuedBy, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Rag;
use crate::embed::ActingFor;
use crate::models::{embedding_models, new_knowledge_base, reaches_openai_family};
use oblivious_core::lane::LaneContext;

type Route = (RouteDoc, MethodRouter<Arc<Rag>>);

const KB_FIELDS: &[(&str, &str)] = &[
    ("description", "string"),
    ("embedding_model", "string"),
    ("chunk_tokens", "integer"),
    ("chunk_overlap", "integer"),
    ("top_k", "integer"),
    ("score_threshold", "number"),
    ("vector_weight", "number"),
    ("rerank_model", "string"),
];

fn routes() -> Vec<Route> {
    let doc = |method, path, summary, body: Option<fn() -> Value>, status| RouteDoc {
        method,
        path,
        summary,
        auth: "user",
        body,
        status,
    };
    vec![
        (doc("GET", "/api/v1/knowledge-bases", "The caller's knowledge bases", None, 200), get(list)),
        (
            doc(
                "GET",
                "/api/v1/knowledge-bases/embedding-models",
                "The embedding models the caller can make a knowledge base with",
                None,
                200,
            ),
            get(list_embedding_models),
        ),
        (
            doc(
                "POST",
                "/api/v1/knowledge-bases",
                "Create a knowledge base",
                Some(|| schema_object(&[("name", "string"), ("embedding_model", "string")], KB_FIELDS)),
                201,
            ),
            post(create),
        ),
        (doc("GET", "/api/v1/knowledge-bases/{id}", "One knowledge base", None, 200), get(show)),
        (
            doc(
                "PATCH",
                "/api/v1/knowledge-bases/{id}",
                "Change a knowledge base's name, description or settings",
                Some(|| schema_object(&[], KB_FIELDS)),
                200,
            ),
            axum::routing::patch(update),
        ),
        (
            doc(
                "DELETE",
                "/api/v1/knowledge-bases/{id}",
                "Delete a knowledge base and its index (files stay)",
                None,
                204,
            ),
            delete(remove),
        ),
        (
            doc(
                "GET",
                "/api/v1/knowledge-bases/{id}/files",
                "The files of a knowledge base, with status and progress",
                None,
                200,
            ),
            get(files),
        ),
        (
            doc(
                "POST",
                "/api/v1/knowledge-bases/{id}/files",
                "Add one of the caller's files; it is queued for ingestion",
                Some(|| schema_object(&[("file_id", "string")], &[])),
                202,
            ),
            post(add_file),
        ),
        (
            doc(
                "DELETE",
                "/api/v1/knowledge-bases/{id}/files/{file_id}",
                "Take a file out of a knowledge base, with its chunks and vectors",
                None,
                204,
            ),
            delete(remove_file),
        ),
        (
            doc(
                "POST",
                "/api/v1/knowledge-bases/{id}/search",
                "Retrieve the chunks that best answer a query (to test retrieval)",
                Some(|| schema_object(&[("query", "string")], &[("top_k", "integer"), ("mode", "string")])),
                200,
            ),
            post(search),
        ),
        (
            doc(
                "POST",
                "/api/v1/knowledge-bases/{id}/files/{file_id}/retry",
                "Queue a failed file again (finished vectors are kept)",
                None,
                202,
            ),
            post(retry_file),
        ),
    ]
}

pub fn router(rag: Arc<Rag>) -> Router {
    let mut router = Router::new();
    for (doc, method_router) in routes() {
        router = router.route(doc.path, method_router);
    }
    router.with_state(rag)
}

/// The knowledge-base routes' documentation, for the product API's OpenAPI document.
pub fn route_docs() -> Vec<RouteDoc> {
    routes().into_iter().map(|(doc, _)| doc).collect()
}

#[derive(Debug, Serialize)]
struct KnowledgeBaseView {
    id: Uuid,
    name: String,
    description: String,
    embedding_model: String,
    embedding_dims: Option<i32>,
    chunk_tokens: i32,
    chunk_overlap: i32,
    top_k: i32,
    score_threshold: f64,
    vector_weight: f64,
    rerank_model: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<&KnowledgeBase> for KnowledgeBaseView {
    fn from(kb: &KnowledgeBase) -> Self {
        KnowledgeBaseView {
            id: kb.id,
            name: kb.name.clone(),
            description: kb.description.clone(),
            embedding_model: kb.embedding_model.clone(),
            embedding_dims: kb.embedding_dims,
            chunk_tokens: kb.chunk_tokens,
            chunk_overlap: kb.chunk_overlap,
            top_k: kb.top_k,
            score_threshold: f64::from(kb.score_threshold_milli) / 1000.0,
            vector_weight: f64::from(kb.vector_weight_milli) / 1000.0,
            rerank_model: kb.rerank_model.clone(),
            created_at: kb.created_at,
            updated_at: kb.updated_at,
        }
    }
}

fn file_view(file: &KnowledgeFile) -> Value {
    json!({
        "file_id": file.file_id,
        "name": file.name,
        "media_type": file.media_type,
        "size_bytes": file.size_bytes,
        "status": file.status,
        "error": file.error,
        "progress": {"chunks_total": file.chunks_total, "chunks_embedded": file.chunks_embedded},
        "attempt": file.attempt,
        "created_at": file.created_at,
        "updated_at": file.updated_at,
    })
}

/// The fields of POST and PATCH; on PATCH, absent fields keep their value (the embedding model
/// cannot change: the vectors would not be comparable).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KbBody {
    name: Option<String>,
    description: Option<String>,
    embedding_model: Option<String>,
    chunk_tokens: Option<i32>,
    chunk_overlap: Option<i32>,
    top_k: Option<i32>,
    score_threshold: Option<f64>,
    vector_weight: Option<f64>,
    /// A rerank model; `""` turns reranking off.
    rerank_model: Option<String>,
}

impl KbBody {
    /// Validates and applies the body onto `kb`; `reachable` says whether the caller reaches a
    /// model through an OpenAI-family channel.
    fn apply(self, mut kb: KnowledgeBase, reachable: impl Fn(&str) -> bool) -> ApiResult<KnowledgeBase> {
        if let Some(model) = self.rerank_model {
            let model = model.trim();
            if !model.is_empty() && !reachable(model) {
                return Err(ProductError::invalid(
                    "rerank_model",
                    format!("`{model}` is not a model you can use (an OpenAI-compatible channel must serve it)"),
                ));
            }
            kb.rerank_model = Some(model.to_string()).filter(|m| !m.is_empty());
        }
        if let Some(name) = self.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                return Err(ProductError::invalid("name", "must be 1 to 100 characters"));
            }
            kb.name = name.to_string();
        }
        if let Some(description) = self.description {
            if description.chars().count() > 2000 {
                return Err(ProductError::invalid("description", "at most 2000 characters"));
            }
            kb.description = description;
        }
        if let Some(tokens) = self.chunk_tokens {
            if !(64..=8192).contains(&tokens) {
                return Err(ProductError::invalid("chunk_tokens", "must be from 64 to 8192"));
            }
            kb.chunk_tokens = tokens;
        }
        if let Some(overlap) = self.chunk_overlap {
            kb.chunk_overlap = overlap;
        }
        if kb.chunk_overlap < 0 || kb.chunk_overlap > kb.chunk_tokens / 2 {
            return Err(ProductError::invalid("chunk_overlap", "must be from 0 to half of chunk_tokens"));
        }
        if let Some(top_k) = self.top_k {
            if !(1..=50).contains(&top_k) {
                return Err(ProductError::invalid("top_k", "must be from 1 to 50"));
            }
            kb.top_k = top_k;
        }
        let fraction = |field: &str, value: f64| -> ApiResult<i32> {
            if (0.0..=1.0).contains(&value) {
                Ok((value * 1000.0).round() as i32)
            } else {
                Err(ProductError::invalid(field, "must be from 0 to 1"))
            }
        };
        if let Some(threshold) = self.score_threshold {
            kb.score_threshold_milli = fraction("score_threshold", threshold)?;
        }
        if let Some(weight) = self.vector_weight {
            kb.vector_weight_milli = fraction("vector_weight", weight)?;
        }
        kb.updated_at = now_ms();
        Ok(kb)
    }
}

async fn list(State(rag): State<Arc<Rag>>, identity: UserIdentity) -> ApiResult<Json<Value>> {
    let bases = rag.store().knowledge_bases(identity.user.id).await?;
    let data: Vec<KnowledgeBaseView> = bases.iter().map(KnowledgeBaseView::from).collect();
    Ok(Json(json!({"data": data})))
}

/// Models named as embedding models that the caller's group reaches through a channel serving
/// `/v1/embeddings` (a model named otherwise can still be typed in).
async fn list_embedding_models(State(rag): State<Arc<Rag>>, identity: UserIdentity) -> Json<Value> {
    Json(json!({"data": embedding_models(&rag.gateway.runtime.active(), &identity.user.group)}))
}

async fn create(State(rag): State<Arc<Rag>>, identity: UserIdentity, Body(body): Body<KbBody>) -> ApiResult<Response> {
    if body.name.is_none() {
        return Err(ProductError::invalid("name", "field required"));
    }
    let model = body.embedding_model.clone().unwrap_or_default();
    let active = rag.gateway.runtime.active();
    let reachable = |model: &str| reaches_openai_family(&active, &identity.user.group, model);
    // The model must have a channel the user's group reaches that serves embeddings, or every
    // file would fail later.
    if !reachable(&model) {
        return Err(ProductError::invalid(
            "embedding_model",
            format!("`{model}` is not an embedding model you can use (an OpenAI-compatible channel must serve it)"),
        ));
    }
    let defaults = new_knowledge_base(identity.user.id, model, now_ms());
    let kb = body.apply(defaults, reachable)?;
    rag.store().insert_knowledge_base(&kb).await?;
    Ok((StatusCode::CREATED, Json(KnowledgeBaseView::from(&kb))).into_response())
}

async fn owned(rag: &Rag, identity: &UserIdentity, id: Uuid) -> ApiResult<KnowledgeBase> {
    rag.store().knowledge_base(identity.user.id, id).await?.ok_or_else(|| ProductError::not_found("knowledge base"))
}

async fn show(State(rag): State<Arc<Rag>>, identity: UserIdentity, Path(id): Path<Uuid>) -> ApiResult<Response> {
    let kb = owned(&rag, &identity, id).await?;
    Ok(Json(KnowledgeBaseView::from(&kb)).into_response())
}

async fn update(
    State(rag): State<Arc<Rag>>,
    identity: UserIdentity,
    Path(id): Path<Uuid>,
    Body(body): Body<KbBody>,
) -> ApiResult<Response> {
    let kb = owned(&rag, &identity, id).await?;
    if body.embedding_model.as_ref().is_some_and(|m| *m != kb.embedding_model) {
        return Err(ProductError::invalid("embedding_model", "cannot change; create a new knowledge base"));
    }
    let active = rag.gateway.runtime.active();
    let kb = body.apply(kb, |model| reaches_openai_family(&active, &identity.user.group, model))?;
    rag.store().update_knowledge_base(&kb).await?;
    Ok(Json(KnowledgeBaseView::from(&kb)).into_response())
}

async fn remove(State(rag): State<Arc<Rag>>, identity: UserIdentity, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    if rag.store().delete_knowledge_base(identity.user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ProductError::not_found("knowledge base"))
    }
}

async fn files(State(rag): State<Arc<Rag>>, identity: UserIdentity, Path(id): Path<Uuid>) -> ApiResult<Json<Value>> {
    owned(&rag, &identity, id).await?;
    let files = rag.store().knowledge_files(identity.user.id, id).await?;
    Ok(Json(json!({"data": files.iter().map(file_view).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddFile {
    file_id: Uuid,
}

async fn add_file(
    State(rag): State<Arc<Rag>>,
    identity: UserIdentity,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    Body(body): Body<AddFile>,
) -> ApiResult<Response> {
    owned(&rag, &identity, id).await?;
    let store = rag.store();
    if store.file(identity.user.id, body.file_id).await?.is_none() {
        return Err(ProductError::not_found("file"));
    }
    let lane = LaneContext::from_headers(&headers);
    let traceparent = propagation::current_traceparent();
    let queued_by = QueuedBy { lane: lane.tag(), traceparent: traceparent.as_deref() };
    let added = store.add_knowledge_file(identity.user.id, id, body.file_id, queued_by, now_ms()).await?;
    if !added {
        return Err(ProductError::conflict("the file is already in this knowledge base"));
    }
    rag.ingestor.wake();
    let file = store
        .knowledge_file(identity.user.id, id, body.file_id)
        .await?
        .ok_or_else(|| ProductError::not_found("file"))?;
    Ok((StatusCode::ACCEPTED, Json(file_view(&file))).into_response())
}

async fn remove_file(
    State(rag): State<Arc<Rag>>,
    identity: UserIdentity,
    Path((id, file_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    owned(&rag, &identity, id).await?;
    if rag.store().remove_knowledge_file(identity.user.id, id, file_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ProductError::not_found("file"))
    }
}

async fn retry_file(
    State(rag): State<Arc<Rag>>,
    identity: UserIdentity,
    Path((id, file_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    owned(&rag, &identity, id).await?;
    let store = rag.store();
    let file =
        store.knowledge_file(identity.user.id, id, file_id).await?.ok_or_else(|| ProductError::not_found("file"))?;
    let traceparent = propagation::current_traceparent();
    if !store.retry_knowledge_file(identity.user.id, id, file_id, traceparent.as_deref(), now_ms()).await? {
        return Err(ProductError::conflict(format!("only a failed file can be retried; this one is {}", file.status)));
    }
    rag.ingestor.wake();
    let file =
        store.knowledge_file(identity.user.id, id, file_id).await?.ok_or_else(|| ProductError::not_found("file"))?;
    Ok((StatusCode::ACCEPTED, Json(file_view(&file))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchBody {
    query: String,
    top_k: Option<usize>,
    #[serde(default)]
    mode: crate::search::SearchMode,
}

async fn search(
    State(rag): State<Arc<Rag>>,
    identity: UserIdentity,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    Body(body): Body<SearchBody>,
) -> ApiResult<Json<Value>> {
    let kb = owned(&rag, &identity, id).await?;
    let query = body.query.trim();
    if query.is_empty() || query.chars().count() > 4000 {
        return Err(ProductError::invalid("query", "must be 1 to 4000 characters"));
    }
    if body.top_k.is_some_and(|k| !(1..=50).contains(&k)) {
        return Err(ProductError::invalid("top_k", "must be from 1 to 50"));
    }
    let lane = LaneContext::from_headers(&headers);
    let who = ActingFor { user: identity.user.id, lane: &lane };
    let hits = crate::search::search(rag.store(), &rag.embedder, who, &[kb], query, body.top_k, body.mode)
        .await
        .map_err(|error| match error {
            crate::search::SearchError::Store(error) => ProductError::store(error),
            crate::search::SearchError::Embed(error) => {
                ProductError::new(StatusCode::BAD_GATEWAY, "embedding_failed", error.to_string())
            }
        })?;
    Ok(Json(json!({"data": hits})))
}
