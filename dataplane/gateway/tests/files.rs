//! `/api/v1/files` over real HTTP, on SQLite and on PostgreSQL, with files on the local
//! filesystem: upload (type sniffed, deduplicated, size and quota enforced before anything is
//! stored), signed downloads, privacy between users, delete.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use oblivious_files::{FileLimits, Files, ObjectStorage, UrlSigner};
use oblivious_gateway::{Gateway, GatewayConfig};
use oblivious_runtime::{Runtime, RuntimeConfig};
use oblivious_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const MAX_FILE: u64 = 1024;
const QUOTA: u64 = 2048;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

struct Api {
    base: String,
    http: reqwest::Client,
    files: Files,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start(store: Store) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::local(RuntimeConfig::default(), store.clone());
        let limits = FileLimits { max_file_bytes: MAX_FILE, user_quota_bytes: QUOTA };
        let objects = ObjectStorage::local(dir.path()).unwrap();
        let files = Files::new(objects, store, limits, UrlSigner::derived_from(SECRET));
        let mut gateway = Gateway::new(runtime, GatewayConfig::with_secret(SECRET.to_vec()));
        gateway.files = Some(files.clone());
        let app = oblivious_gateway::router(Arc::new(gateway));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api { base, http: reqwest::Client::new(), files, _dir: dir }
    }

    /// Registers and logs in; returns the access token and the user id.
    async fn sign_up(&self, name: &str) -> (String, String) {
        let url = format!("{}/api/v1/auth/register", self.base);
        let body =
            json!({"username": name, "email": format!("{name}@example.com"), "password": "correct horse battery"});
        let user: Value = self.http.post(url).json(&body).send().await.unwrap().json().await.unwrap();
        let url = format!("{}/api/v1/auth/login", self.base);
        let body = json!({"username": name, "password": "correct horse battery"});
        let login: Value = self.http.post(url).json(&body).send().await.unwrap().json().await.unwrap();
        (login["access_token"].as_str().unwrap().to_string(), user["id"].as_str().unwrap().to_string())
    }

    /// Uploads `bytes` as `name` in a multipart `field`.
    async fn upload_field(&self, token: &str, field: &str, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let boundary = "oblivious-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .http
            .post(format!("{}/api/v1/files", self.base))
            .bearer_auth(token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
        self.upload_field(token, "file", name, bytes).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str) -> (StatusCode, Value) {
        let response =
            self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn listed(&self, token: &str) -> Vec<Value> {
        self.call(reqwest::Method::GET, "/api/v1/files", token).await.1["data"].as_array().unwrap().clone()
    }

    async fn download(&self, url: &str) -> reqwest::Response {
        self.http.get(format!("{}{url}", self.base)).send().await.unwrap()
    }
}

oblivious_store::both_backends!(
    start = Api::start;
    an_upload_is_sniffed_deduplicated_and_downloaded_through_its_signed_url,
    oversized_unsupported_and_over_quota_files_are_refused_before_anything_is_stored,
    files_are_private_and_deleting_one_removes_its_content,
);

async fn an_upload_is_sniffed_deduplicated_and_downloaded_through_its_signed_url(api: Api) {
    let (token, _) = api.sign_up("alice").await;
    let (status, file) = api.upload(&token, "../notes.txt", PNG).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["media_type"], "image/png", "the type comes from the bytes, not the name");
    assert_eq!(file["name"], "notes.txt", "no path in a name");
    assert_eq!(file["size_bytes"], PNG.len());
    let (status, again) = api.upload(&token, "copy.png", PNG).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &file["id"]), "the same content is the same file");
    assert_eq!(api.listed(&token).await.len(), 1);

    let (status, meta) =
        api.call(reqwest::Method::GET, &format!("/api/v1/files/{}", file["id"].as_str().unwrap()), &token).await;
    assert_eq!((status, &meta["sha256"]), (StatusCode::OK, &file["sha256"]));
    let download = api.download(meta["url"].as_str().unwrap()).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert_eq!(download.bytes().await.unwrap().as_ref(), PNG);

    let (status, page) = api.upload(&token, "page.html", b"<!doctype html><script>alert(1)</script>").await;
    assert_eq!((status, page["media_type"].as_str()), (StatusCode::CREATED, Some("text/html")));
    let html = api.download(page["url"].as_str().unwrap()).await;
    assert!(
        html.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"),
        "never rendered on our origin"
    );

    let url = meta["url"].as_str().unwrap();
    let tampered = url.replace("signature=", "signature=0");
    assert_eq!(api.download(&tampered).await.status(), StatusCode::FORBIDDEN);
    let id: uuid::Uuid = file["id"].as_str().unwrap().parse().unwrap();
    let expired = format!("/api/v1/files/{id}/content?{}", api.files.signed_query(id, 1_000));
    assert_eq!(api.download(&expired).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(api.download(&format!("/api/v1/files/{id}/content")).await.status(), StatusCode::FORBIDDEN);
}

async fn oversized_unsupported_and_over_quota_files_are_refused_before_anything_is_stored(api: Api) {
    let (token, _) = api.sign_up("bob").await;
    let big = vec![b'a'; MAX_FILE as usize + 1];
    let (status, error) = api.upload(&token, "big.txt", &big).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("file_too_large")));

    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
    let (status, error) = api.upload(&token, "report.pdf", elf).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_file_type"))
    );
    let (status, error) = api.upload_field(&token, "attachment", "a.txt", b"hello").await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    assert!(api.listed(&token).await.is_empty(), "nothing refused was stored");

    // Two files of 900 bytes fit the 2048-byte quota; a third does not.
    for n in 0..2u8 {
        let (status, _) = api.upload(&token, "part.txt", &vec![b'a' + n; 900]).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, error) = api.upload(&token, "part.txt", &vec![b'z'; 900]).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("storage_quota_exceeded"))
    );
    assert_eq!(api.listed(&token).await.len(), 2);
}

async fn files_are_private_and_deleting_one_removes_its_content(api: Api) {
    let (alice, alice_id) = api.sign_up("alice").await;
    let (bob, _) = api.sign_up("bob").await;
    let (_, file) = api.upload(&alice, "a.md", b"# Alice\n").await;
    let (_, bobs) = api.upload(&bob, "b.md", b"# Alice\n").await;
    assert_ne!(file["id"], bobs["id"], "each user has their own copy of the same content");
    let path = format!("/api/v1/files/{}", file["id"].as_str().unwrap());
    assert_eq!(api.call(reqwest::Method::GET, &path, &bob).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.call(reqwest::Method::DELETE, &path, &bob).await.0, StatusCode::NOT_FOUND);
    assert!(api.listed(&bob).await.iter().all(|f| f["id"] != file["id"]));

    assert_eq!(api.call(reqwest::Method::DELETE, &path, &alice).await.0, StatusCode::NO_CONTENT);
    assert_eq!(api.call(reqwest::Method::GET, &path, &alice).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.call(reqwest::Method::DELETE, &path, &alice).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.download(file["url"].as_str().unwrap()).await.status(), StatusCode::NOT_FOUND);
    let object = format!("files/{alice_id}/{}", file["id"].as_str().unwrap());
    assert!(!api.files.objects.exists(&object).await.unwrap(), "the content is gone with the file");
    let download = api.download(bobs["url"].as_str().unwrap()).await;
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"# Alice\n", "the other user's copy is untouched");
}
