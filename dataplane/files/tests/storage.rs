//! `Files` against real parts: every case runs on the local filesystem and on S3 (a real S3
//! protocol peer, moto, started by `scripts/with-moto`), each on SQLite and on PostgreSQL. What is
//! in the object store is checked by listing it with a client of its own, not through the code
//! under test.
//!
//! S3 needs `OBLIVIOUS_TEST_S3_ENDPOINT` (each test creates a bucket of its own there, anonymously,
//! as moto allows) and the `AWS_*` variables `ObjectStorage::from_url` reads, pointing at the same
//! server; without it the S3 tests are skipped, unless `OBLIVIOUS_REQUIRE_S3=1` (set by
//! `scripts/test`), which makes a missing server a failure. PostgreSQL follows
//! `OBLIVIOUS_TEST_DATABASE_URL` / `OBLIVIOUS_REQUIRE_POSTGRES` like the store's own suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::Path;
use std::slice;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use oblivious_files::{FileError, FileLimits, Files, ObjectStorage, UrlSigner};
use oblivious_store::testing::{TEST_DATABASE_URL, TestDatabase};
use oblivious_store::{FileRecord, NewUser, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// Environment variable naming the S3 server for tests (`http://host:port`).
const TEST_S3_ENDPOINT: &str = "OBLIVIOUS_TEST_S3_ENDPOINT";
/// The key prefix in the S3 URL, so the tests see that it is applied.
const S3_PREFIX: &str = "tenant/uploads";

const LIMITS: FileLimits = FileLimits { max_file_bytes: 1000, user_quota_bytes: 1500 };

/// UTF-8 text with multi-byte characters; its SHA-256 comes from `sha256sum`, not this code.
const NOTES: &str = "# Notes\n\nCafé ☕ — naïve “quotes”, 你好.\n";
const NOTES_SHA256: &str = "9c050603f21c60eda36fdd45186aa1d0ede359a0dbd0cbd9f7426fc13f80279c";
/// A 1×1 PNG header: binary, not UTF-8.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PNG_SHA256: &str = "4ffd8bb30991e3a6f28d1d03f1aedcd02ccf8e0cc16bb9e969e7bc2bda1ddf03";
/// The start of an ELF executable, padded to a whole 64-byte ELF64 header (`infer` recognises
/// ELF only in more than 52 bytes).
const ELF_START: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0";

/// Each case on {local filesystem, S3} × {SQLite, PostgreSQL}.
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local_sqlite() {
                run(Objects::Local, Db::Sqlite, super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local_postgres() {
                run(Objects::Local, Db::Postgres, super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3_sqlite() {
                run(Objects::S3, Db::Sqlite, super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3_postgres() {
                run(Objects::S3, Db::Postgres, super::$case).await;
            }
        }
    )*};
}

on_every_backend!(
    text_and_binary_files_round_trip_and_identical_content_is_stored_once,
    too_large_files_are_refused_and_leave_nothing,
    the_quota_is_per_user_and_counts_stored_bytes_once,
    unsupported_types_are_refused_whatever_their_name,
    another_users_file_is_not_found,
    delete_removes_the_row_and_the_object_once,
    identical_uploads_of_two_users_are_independent,
);

async fn text_and_binary_files_round_trip_and_identical_content_is_stored_once(h: Harness) {
    let alice = h.user("alice").await;
    let first = h.files.upload(alice, "notes/../Notes.md", Bytes::from_static(NOTES.as_bytes())).await.unwrap();
    assert!(first.created);
    let file = &first.file;
    assert_eq!((file.user_id, file.name.as_str()), (alice, "Notes.md"));
    assert_eq!(file.media_type, "text/markdown");
    assert_eq!(file.size_bytes, NOTES.len() as i64);
    assert_eq!(file.sha256, NOTES_SHA256);
    assert_eq!(file.object_key, format!("files/{alice}/{}", file.id), "one object per file");
    assert_eq!(h.files.get(alice, file.id).await.unwrap(), *file);
    assert_eq!(h.files.content(file).await.unwrap(), NOTES.as_bytes(), "byte for byte");
    assert!(h.files.objects.exists(&file.object_key).await.unwrap());
    assert_eq!(h.object_keys().await, [h.stored_key(file)]);
    assert_eq!(h.store.user_storage_bytes(alice).await.unwrap(), NOTES.len() as i64);

    // The same bytes under another name: the file the user already has, its first name kept.
    let again = h.files.upload(alice, "copy.txt", Bytes::from_static(NOTES.as_bytes())).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.file, *file);
    assert_eq!(h.rows(alice).await, slice::from_ref(file));
    assert_eq!(h.object_keys().await, [h.stored_key(file)], "one object");
    assert_eq!(h.store.user_storage_bytes(alice).await.unwrap(), NOTES.len() as i64, "counted once");

    // Binary content: the type comes from the bytes, not the name, and survives the trip intact.
    let image = h.files.upload(alice, "photo.txt", Bytes::from_static(PNG)).await.unwrap();
    assert!(image.created);
    assert_ne!(image.file.id, file.id);
    assert_eq!((image.file.media_type.as_str(), image.file.sha256.as_str()), ("image/png", PNG_SHA256));
    assert_eq!(h.files.content(&image.file).await.unwrap(), PNG);
    assert_eq!(h.files.content(file).await.unwrap(), NOTES.as_bytes());
    assert_eq!(h.rows(alice).await.len(), 2);
    assert_eq!(h.object_keys().await, sorted([h.stored_key(file), h.stored_key(&image.file)]));
}

async fn too_large_files_are_refused_and_leave_nothing(h: Harness) {
    let alice = h.user("alice").await;
    let refused = h.files.upload(alice, "big.txt", text('x', 1001)).await;
    assert!(matches!(refused, Err(FileError::TooLarge { limit: 1000 })), "{refused:?}");
    assert_eq!(h.rows(alice).await, []);
    assert_eq!(h.object_keys().await, Vec::<String>::new());
    assert_eq!(h.store.user_storage_bytes(alice).await.unwrap(), 0);

    // The limit itself is allowed.
    let fits = h.files.upload(alice, "big.txt", text('x', 1000)).await.unwrap();
    assert!(fits.created);
    assert_eq!(h.files.content(&fits.file).await.unwrap(), text('x', 1000));
    assert_eq!(h.object_keys().await, [h.stored_key(&fits.file)]);
}

async fn the_quota_is_per_user_and_counts_stored_bytes_once(h: Harness) {
    let (alice, bob) = (h.user("alice").await, h.user("bob").await);
    let a = h.files.upload(alice, "a.txt", text('a', 800)).await.unwrap().file;

    let refused = h.files.upload(alice, "b.txt", text('b', 800)).await;
    assert!(matches!(refused, Err(FileError::QuotaExceeded { needed: 1600, quota: 1500 })), "{refused:?}");
    assert_eq!(h.rows(alice).await, slice::from_ref(&a), "nothing stored");
    assert_eq!(h.object_keys().await, [h.stored_key(&a)]);

    // Content the user has already takes no more room, even at the quota.
    let again = h.files.upload(alice, "a-again.txt", text('a', 800)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.file.id, a.id);
    // Up to the quota exactly.
    let c = h.files.upload(alice, "c.txt", text('c', 700)).await.unwrap().file;
    assert_eq!(h.store.user_storage_bytes(alice).await.unwrap(), 1500);
    let refused = h.files.upload(alice, "d.txt", text('d', 1)).await;
    assert!(matches!(refused, Err(FileError::QuotaExceeded { needed: 1501, quota: 1500 })), "{refused:?}");

    // Another user's quota is their own.
    let b = h.files.upload(bob, "b.txt", text('b', 800)).await.unwrap().file;
    assert_eq!(h.object_keys().await, sorted([h.stored_key(&a), h.stored_key(&b), h.stored_key(&c)]));

    // Deleting frees the room.
    h.files.delete(alice, c.id).await.unwrap();
    let d = h.files.upload(alice, "d.txt", text('d', 700)).await.unwrap();
    assert!(d.created);
}

async fn unsupported_types_are_refused_whatever_their_name(h: Harness) {
    let alice = h.user("alice").await;
    let mut elf = ELF_START.to_vec();
    elf.resize(64, 0);
    let refused = h.files.upload(alice, "report.pdf", Bytes::from(elf)).await;
    let Err(FileError::Unsupported(reason)) = refused else { panic!("an executable named .pdf: {refused:?}") };
    assert_eq!(reason, "files of type application/x-executable are not supported");
    let refused = h.files.upload(alice, "blob.txt", Bytes::from_static(b"\xff\xfe\0\x01binary")).await;
    assert!(matches!(refused, Err(FileError::Unsupported(_))), "not UTF-8 text: {refused:?}");
    let refused = h.files.upload(alice, "empty.txt", Bytes::new()).await;
    assert!(matches!(refused, Err(FileError::Unsupported(_))), "empty: {refused:?}");
    assert_eq!(h.rows(alice).await, []);
    assert_eq!(h.object_keys().await, Vec::<String>::new());
}

async fn another_users_file_is_not_found(h: Harness) {
    let (alice, bob) = (h.user("alice").await, h.user("bob").await);
    let file = h.files.upload(alice, "notes.md", Bytes::from_static(NOTES.as_bytes())).await.unwrap().file;

    assert!(matches!(h.files.get(bob, file.id).await, Err(FileError::NotFound)));
    assert!(matches!(h.files.get(alice, Uuid::now_v7()).await, Err(FileError::NotFound)), "as an unknown id");
    assert!(matches!(h.files.delete(bob, file.id).await, Err(FileError::NotFound)));
    assert_eq!(h.rows(bob).await, []);

    // Bob's attempts changed nothing.
    assert_eq!(h.files.get(alice, file.id).await.unwrap(), file);
    assert_eq!(h.files.content(&file).await.unwrap(), NOTES.as_bytes());
    assert_eq!(h.object_keys().await, [h.stored_key(&file)]);
}

async fn delete_removes_the_row_and_the_object_once(h: Harness) {
    let alice = h.user("alice").await;
    let file = h.files.upload(alice, "notes.md", Bytes::from_static(NOTES.as_bytes())).await.unwrap().file;
    let keep = h.files.upload(alice, "photo.png", Bytes::from_static(PNG)).await.unwrap().file;

    assert_eq!(h.files.delete(alice, file.id).await.unwrap(), file);
    assert!(!h.files.objects.exists(&file.object_key).await.unwrap());
    assert!(matches!(h.files.get(alice, file.id).await, Err(FileError::NotFound)));
    assert_eq!(h.rows(alice).await, slice::from_ref(&keep));
    assert_eq!(h.object_keys().await, [h.stored_key(&keep)]);
    assert!(matches!(h.files.delete(alice, file.id).await, Err(FileError::NotFound)), "deleted once");
    assert_eq!(h.files.content(&keep).await.unwrap(), PNG);

    // The same content again is a new file, with its object back.
    let back = h.files.upload(alice, "notes.md", Bytes::from_static(NOTES.as_bytes())).await.unwrap();
    assert!(back.created);
    assert_ne!(back.file.id, file.id);
    assert_ne!(back.file.object_key, file.object_key, "a new file has its own object");
    assert_eq!(h.files.content(&back.file).await.unwrap(), NOTES.as_bytes());
}

async fn identical_uploads_of_two_users_are_independent(h: Harness) {
    let (alice, bob) = (h.user("alice").await, h.user("bob").await);
    let bytes = Bytes::from_static(NOTES.as_bytes());
    let theirs = h.files.upload(alice, "notes.md", bytes.clone()).await.unwrap();
    let mine = h.files.upload(bob, "mine.md", bytes.clone()).await.unwrap();
    assert!(theirs.created && mine.created, "one user's content does not dedupe another's");
    let (theirs, mine) = (theirs.file, mine.file);
    assert_ne!(theirs.id, mine.id);
    assert_ne!(theirs.object_key, mine.object_key);
    assert_eq!((theirs.sha256.as_str(), mine.sha256.as_str()), (NOTES_SHA256, NOTES_SHA256));
    assert_eq!(h.rows(alice).await, slice::from_ref(&theirs));
    assert_eq!(h.rows(bob).await, slice::from_ref(&mine));
    assert_eq!(h.object_keys().await, sorted([h.stored_key(&theirs), h.stored_key(&mine)]));

    h.files.delete(alice, theirs.id).await.unwrap();
    assert!(!h.files.objects.exists(&theirs.object_key).await.unwrap());
    assert_eq!(h.files.get(bob, mine.id).await.unwrap(), mine);
    assert_eq!(h.files.content(&mine).await.unwrap(), bytes, "bob's copy is untouched");
    assert_eq!(h.object_keys().await, [h.stored_key(&mine)]);
}

// ---- harness ----

#[derive(Clone, Copy)]
enum Objects {
    Local,
    S3,
}

#[derive(Clone, Copy)]
enum Db {
    Sqlite,
    Postgres,
}

struct Harness {
    files: Files,
    store: Store,
    /// The whole object store our `ObjectStorage` writes into (the directory, or the bucket),
    /// through a client of the test's own.
    raw: Arc<dyn ObjectStore>,
    /// What `ObjectStorage` puts before an object key in `raw`: nothing locally, the URL's prefix
    /// on S3.
    key_prefix: String,
}

impl Harness {
    async fn user(&self, name: &str) -> Uuid {
        let new = NewUser { username: name.into(), email: format!("{name}@example.com"), ..NewUser::default() };
        self.store.create_user(new).await.unwrap().id
    }

    async fn rows(&self, user_id: Uuid) -> Vec<FileRecord> {
        self.store.list_files(user_id, 100).await.unwrap()
    }

    /// Where `file`'s object should be in `raw`.
    fn stored_key(&self, file: &FileRecord) -> String {
        format!("{}{}", self.key_prefix, file.object_key)
    }

    /// Every object in `raw`, sorted.
    async fn object_keys(&self) -> Vec<String> {
        let (mut keys, mut pending) = (Vec::new(), vec![None]);
        while let Some(prefix) = pending.pop() {
            let listing = self.raw.list_with_delimiter(prefix.as_ref()).await.unwrap();
            keys.extend(listing.objects.into_iter().map(|object| object.location.to_string()));
            pending.extend(listing.common_prefixes.into_iter().map(Some));
        }
        keys.sort();
        keys
    }
}

async fn run<F, Fut>(objects: Objects, db: Db, case: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let Some((storage, raw, key_prefix)) = object_storage(objects, dir.path()).await else { return };
    let (store, database) = match db {
        Db::Sqlite => {
            let store = Store::open_sqlite(&dir.path().join("db")).await.unwrap();
            store.migrate().await.unwrap();
            (store, None)
        }
        Db::Postgres => {
            let Some(database) = TestDatabase::create().await.unwrap() else {
                eprintln!("skipped: {TEST_DATABASE_URL} is not set");
                return;
            };
            (database.store().await.unwrap(), Some(database))
        }
    };
    let files = Files::new(storage, store.clone(), LIMITS, UrlSigner::new(b"storage-tests"));
    case(Harness { files, store: store.clone(), raw, key_prefix }).await;
    store.close().await;
    if let Some(database) = database {
        database.drop_database().await.unwrap();
    }
}

/// The storage under test, built as the server builds it (`ObjectStorage::from_url`), a client
/// of the test's own on the same place, and the key prefix between them; `None` to skip.
async fn object_storage(objects: Objects, data_dir: &Path) -> Option<(ObjectStorage, Arc<dyn ObjectStore>, String)> {
    match objects {
        Objects::Local => {
            // The default: `{data_dir}/files`.
            let storage = ObjectStorage::from_url(None, data_dir).unwrap();
            let root = data_dir.join("files");
            assert_eq!(storage.describe, format!("file://{}", root.display()));
            let raw = LocalFileSystem::new_with_prefix(&root).unwrap();
            Some((storage, Arc::new(raw), String::new()))
        }
        Objects::S3 => {
            let endpoint = s3_endpoint()?;
            let bucket = format!("obl-test-{}", Uuid::now_v7().simple());
            create_bucket(&endpoint, &bucket).await;
            let url = format!("s3://{bucket}/{S3_PREFIX}");
            let storage = ObjectStorage::from_url(Some(&url), data_dir).unwrap();
            assert_eq!(storage.describe, url);
            let raw = AmazonS3Builder::new()
                .with_endpoint(&endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .with_bucket_name(&bucket)
                .build()
                .unwrap();
            Some((storage, Arc::new(raw), format!("{S3_PREFIX}/")))
        }
    }
}

/// The S3 server for tests, or `None` to skip them (a failure when `OBLIVIOUS_REQUIRE_S3=1`).
/// `ObjectStorage::from_url` reads its endpoint and credentials from the `AWS_*` variables, which
/// must point at the same server (`scripts/with-moto` sets both).
fn s3_endpoint() -> Option<String> {
    let endpoint = std::env::var(TEST_S3_ENDPOINT).ok().filter(|e| !e.is_empty());
    let required = std::env::var("OBLIVIOUS_REQUIRE_S3").is_ok_and(|v| v == "1");
    let Some(endpoint) = endpoint else {
        assert!(!required, "{TEST_S3_ENDPOINT} is not set but S3 tests are required (run through scripts/with-moto)");
        eprintln!("skipped: {TEST_S3_ENDPOINT} is not set (scripts/with-moto starts an S3 server)");
        return None;
    };
    let aws_endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT")).unwrap_or_default();
    assert_eq!(
        aws_endpoint.trim_end_matches('/'),
        endpoint.trim_end_matches('/'),
        "AWS_ENDPOINT_URL must name the {TEST_S3_ENDPOINT} server, with AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ALLOW_HTTP=true (scripts/with-moto sets them)"
    );
    Some(endpoint)
}

/// Creates `bucket` with an anonymous `PUT /{bucket}` (moto allows it), over plain HTTP/1.1.
async fn create_bucket(endpoint: &str, bucket: &str) {
    let url = url::Url::parse(endpoint).unwrap();
    assert_eq!(url.scheme(), "http", "{TEST_S3_ENDPOINT} must be a plain-HTTP test server");
    let (host, port) = (url.host_str().unwrap(), url.port_or_known_default().unwrap());
    let mut stream = tokio::net::TcpStream::connect((host, port)).await.unwrap();
    let request =
        format!("PUT /{bucket} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    let status = response.split_whitespace().nth(1);
    assert_eq!(status, Some("200"), "creating the bucket {bucket} at {endpoint}: {response}");
}

fn text(c: char, len: usize) -> Bytes {
    Bytes::from(c.to_string().repeat(len))
}

fn sorted<const N: usize>(mut keys: [String; N]) -> Vec<String> {
    keys.sort();
    keys.to_vec()
}
