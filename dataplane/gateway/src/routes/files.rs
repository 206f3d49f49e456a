//! `/api/v1/files`: a user's uploaded files (chat attachments, knowledge-base documents). Upload
//! is multipart (one `file` field); the size limit is enforced while the body streams in, so an
//! oversized file is refused (413) before anything is stored, and an unsupported type (sniffed
//! from the bytes) is a 415. Downloads go through expiring signed URLs
//! (`…/content?expires=…&signature=…`), which need no session, so a URL works as an `<img src>`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use oblivious_files::{FileError, Files};
use oblivious_store::FileRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::Gateway;
use crate::error::{ApiResult, ProductError};
use crate::identity::UserIdentity;

/// How long a download URL stays valid.
const URL_TTL_SECS: i64 = 3600;
/// Most files one listing returns.
const LIST_LIMIT: i64 = 200;

#[derive(Debug, Serialize)]
pub struct FileView {
    pub id: Uuid,
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: i64,
    /// A download URL (path and query) valid until `url_expires_at` (Unix seconds).
    pub url: String,
    pub url_expires_at: i64,
}

impl FileView {
    fn new(files: &Files, file: &FileRecord) -> Self {
        let expires = now_secs() + URL_TTL_SECS;
        FileView {
            id: file.id,
            name: file.name.clone(),
            media_type: file.media_type.clone(),
            size_bytes: file.size_bytes,
            sha256: file.sha256.clone(),
            created_at: file.created_at,
            url: format!("/api/v1/files/{}/content?{}", file.id, files.signed_query(file.id, expires)),
            url_expires_at: expires,
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn files(gateway: &Gateway) -> Result<&Files, ProductError> {
    gateway.files.as_ref().ok_or_else(|| {
        ProductError::new(StatusCode::SERVICE_UNAVAILABLE, "files_unavailable", "File storage is not configured.")
    })
}

fn file_error(error: FileError) -> ProductError {
    match error {
        FileError::TooLarge { .. } => {
            ProductError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", error.to_string())
        }
        FileError::QuotaExceeded { .. } => {
            ProductError::new(StatusCode::PAYLOAD_TOO_LARGE, "storage_quota_exceeded", error.to_string())
        }
        FileError::Unsupported(reason) => {
            ProductError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type", reason)
        }
        FileError::NotFound => ProductError::not_found("file"),
        FileError::Store(error) => ProductError::store(error),
        FileError::Storage(error) => {
            tracing::error!(%error, "object store error");
            ProductError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "File storage is unavailable. Retry shortly.",
            )
        }
    }
}

/// `POST /api/v1/files`: 201 with the new file, or 200 with the one the user already had with
/// the same content.
pub async fn upload(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let files = files(&gateway)?;
    let mut multipart = multipart.map_err(|rejection| ProductError::invalid("body", rejection.body_text()))?;
    let (name, bytes) = read_file_field(&mut multipart, files.limits.max_file_bytes).await?;
    let upload = files.upload(identity.user.id, &name, bytes).await.map_err(file_error)?;
    let status = if upload.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(FileView::new(files, &upload.file))).into_response())
}

/// The `file` field's name and bytes, refusing it as soon as it passes `limit`.
async fn read_file_field(multipart: &mut Multipart, limit: u64) -> Result<(String, Bytes), ProductError> {
    let bad = |error: axum::extract::multipart::MultipartError| ProductError::invalid("body", error.body_text());
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_string();
        let mut bytes = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(file_error(FileError::TooLarge { limit }));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes.freeze()));
    }
    Err(ProductError::invalid("file", "a multipart field named `file` is required"))
}

pub async fn list(State(gateway): State<Arc<Gateway>>, identity: UserIdentity) -> ApiResult<Response> {
    let files = files(&gateway)?;
    let records = gateway.store().list_files(identity.user.id, LIST_LIMIT).await?;
    let data: Vec<FileView> = records.iter().map(|f| FileView::new(files, f)).collect();
    Ok(Json(json!({"data": data})).into_response())
}

pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let files = files(&gateway)?;
    let file = files.get(identity.user.id, id).await.map_err(file_error)?;
    Ok(Json(FileView::new(files, &file)).into_response())
}

pub async fn delete(
    State(gateway): State<Arc<Gateway>>,
    identity: UserIdentity,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    files(&gateway)?.delete(identity.user.id, id).await.map_err(file_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct Signed {
    expires: i64,
    signature: String,
}

/// `GET /api/v1/files/{id}/content?expires=…&signature=…`: the bytes, for whoever holds a valid
/// URL. Served with the sniffed type, never sniffed again by the browser, and inline only for
/// images and PDFs (anything else, HTML included, downloads rather than renders on our origin).
pub async fn content(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<Uuid>,
    query: Result<Query<Signed>, QueryRejection>,
) -> ApiResult<Response> {
    let files = files(&gateway)?;
    let Ok(Query(signed)) = query else {
        return Err(ProductError::forbidden("This download link is missing its signature."));
    };
    if !files.signer.verify(id, signed.expires, &signed.signature, now_secs()) {
        return Err(ProductError::forbidden("This download link is invalid or has expired."));
    }
    let file = gateway.store().file_by_id(id).await?.ok_or_else(|| ProductError::not_found("file"))?;
    let bytes = files.content(&file).await.map_err(file_error)?;
    let inline = file.media_type.starts_with("image/") || file.media_type == "application/pdf";
    let disposition =
        format!("{}; filename*=UTF-8''{}", if inline { "inline" } else { "attachment" }, percent_encode(&file.name));
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type =
        HeaderValue::from_str(&file.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// RFC 5987 encoding of a file name for `Content-Disposition`.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
