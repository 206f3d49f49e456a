//! `oblivious bench rag` (issue 12): vector search at scale, through the store's own code paths.
//!
//! A throw-away PostgreSQL database (pgvector; on the server of `--database-url`) gets two
//! knowledge bases of synthetic, clustered `--dims`-dimensional unit vectors, loaded the way
//! ingestion loads them (claim, upsert chunks, store vectors, finish) in files of 1,000 chunks:
//! a big one holding 99% of `--chunks` ("unfiltered": a search over nearly every row) and a
//! small one holding 1% ("filtered": a search restricted to 1% of the rows, which our per-base
//! partial HNSW index serves). Then each base's index is built and `--queries` searches at k=10
//! are timed through `Store::vector_search`, and their recall@10 is measured against an exact
//! search done here in memory. Then a tenth more chunks go to the big base past its index's
//! fence (`oblivious_store::vector_index`): their load rate, the searches of graph plus exact
//! tail, and the fold into the next index are measured too. The SQLite path (an exact scan) is
//! timed at `--sqlite-chunks`.
//! Ingestion throughput (files through parse, chunk, embed and store) is `rag_ingest.rs`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use oblivious_store::knowledge_search::EF_SEARCH;
use oblivious_store::testing::TestDatabase;
use oblivious_store::{FileRecord, KnowledgeBase, NewChunk, QueuedBy, Store, now_ms};
use rand::Rng;
use uuid::Uuid;

use super::chat::{analyze, print_latencies};
use super::rag_ingest::{self, IngestRun};

/// What the bench's index builds may use: the graph of a million 384-dim chunks fits.
const INDEX_BUILD_MEMORY_MB: u32 = 3 * 1024;

#[derive(Args)]
pub struct RagBenchArgs {
    /// PostgreSQL server with pgvector (a database is created there and dropped).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Chunks in PostgreSQL, over both knowledge bases.
    #[arg(long, default_value_t = 1_000_000)]
    pub chunks: usize,
    /// Chunks for the SQLite exact-scan measurement (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub sqlite_chunks: usize,
    /// Vector dimensions (multilingual-e5-small has 384).
    #[arg(long, default_value_t = 384)]
    pub dims: usize,
    /// Clusters the synthetic vectors are drawn around.
    #[arg(long, default_value_t = 1_000)]
    pub clusters: usize,
    /// Searches timed per case.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Files for the ingestion throughput (0 skips it).
    #[arg(long, default_value_t = 200)]
    pub ingest_files: usize,
    /// Sections (about one chunk each) per ingested file.
    #[arg(long, default_value_t = 20)]
    pub ingest_sections: usize,
    /// Ingestion workers running at once.
    #[arg(long, default_value_t = 4)]
    pub ingest_workers: usize,
}

const K: usize = 10;
const FILE_CHUNKS: usize = 1_000;

pub async fn run(args: RagBenchArgs) -> anyhow::Result<()> {
    println!(
        "oblivious bench rag: {} dims, {} clusters, k={K}, {} queries per case\n",
        args.dims, args.clusters, args.queries
    );
    let space = Space::new(args.dims, args.clusters);
    match args.database_url.as_deref().filter(|u| u.starts_with("postgres")) {
        Some(url) => postgres(&args, &space, url).await?,
        None => {
            println!("postgres: skipped (set --database-url / DATABASE_URL to a PostgreSQL server with pgvector)\n")
        }
    }
    if args.sqlite_chunks > 0 {
        sqlite(&args, &space).await?;
    }
    if args.ingest_files > 0 {
        ingestion(&args).await?;
    }
    Ok(())
}

async fn ingestion(args: &RagBenchArgs) -> anyhow::Result<()> {
    let run =
        IngestRun { files: args.ingest_files, sections_per_file: args.ingest_sections, workers: args.ingest_workers };
    println!(
        "
ingestion: generated Markdown, embedded through the relay by the mock upstream"
    );
    rag_ingest::measure(None, "  sqlite  ", &run).await?;
    if let Some(url) = args.database_url.as_deref().filter(|u| u.starts_with("postgres")) {
        let db = TestDatabase::create_on(url, "obl_bench_ingest").await.context("cannot create the bench database")?;
        let result = rag_ingest::measure(Some(db.store().await?), "  postgres", &run).await;
        db.drop_database().await?;
        result?;
    }
    Ok(())
}

async fn postgres(args: &RagBenchArgs, space: &Space, admin_url: &str) -> anyhow::Result<()> {
    let db = TestDatabase::create_on(admin_url, "obl_bench_rag").await.context("cannot create the bench database")?;
    let result = async {
        let store = db.store().await?;
        let small_len = (args.chunks / 100).max(K);
        let big_len = args.chunks.saturating_sub(small_len).max(K);
        let started = Instant::now();
        let mut big = Base::load(&store, space, big_len, "big").await?;
        let small = Base::load(&store, space, small_len, "small").await?;
        let loaded = started.elapsed().as_secs_f64();
        println!(
            "postgres: loaded {} chunks in {loaded:.1} s ({:.0} chunks/s through the ingestion writes)",
            big_len + small_len,
            (big_len + small_len) as f64 / loaded
        );
        for base in [&big, &small] {
            let started = Instant::now();
            store.fold_vector_index(base.kb.id, args.dims as i32, INDEX_BUILD_MEMORY_MB, |_| true).await?;
            println!(
                "  HNSW index of {} ({} chunks) built in {:.1} s",
                base.label,
                base.vectors.len(),
                started.elapsed().as_secs_f64()
            );
        }
        analyze(&store).await;
        for (label, base) in [("unfiltered (99% of rows)", &big), ("filtered (1% of rows)  ", &small)] {
            let (latencies, recall) = measure(&store, space, base, args.queries, EF_SEARCH).await?;
            print_latencies(&format!("  {label}"), &latencies);
            println!(
                "  {label}  recall@{K} {recall:.3} against exact search (ef_search {EF_SEARCH}, what search uses)"
            );
        }
        // How recall trades against time around the setting search uses.
        for ef_search in [EF_SEARCH / 2, EF_SEARCH * 2] {
            let (latencies, recall) = measure(&store, space, &big, args.queries, ef_search).await?;
            print_latencies(&format!("  unfiltered, ef_search {ef_search:<4}"), &latencies);
            println!("  unfiltered, ef_search {ef_search:<4}  recall@{K} {recall:.3}");
        }
        tail(&store, space, args, &mut big).await
    }
    .await;
    db.drop_database().await?;
    result
}

/// A tenth more chunks written to the indexed big base: how fast they load past the index's
/// fence (no graph inserts), how a search of graph plus exact tail does, and the fold that
/// takes them into the next index.
async fn tail(store: &Store, space: &Space, args: &RagBenchArgs, big: &mut Base) -> anyhow::Result<()> {
    let tail_len = (big.vectors.len() / 10).max(K);
    let started = Instant::now();
    big.append(store, space, tail_len).await?;
    let loaded = started.elapsed().as_secs_f64();
    println!(
        "  a tail of {tail_len} chunks past the index's fence loaded in {loaded:.1} s ({:.0} chunks/s)",
        tail_len as f64 / loaded
    );
    analyze(store).await;
    let (latencies, recall) = measure(store, space, big, args.queries, EF_SEARCH).await?;
    print_latencies("  graph + exact tail      ", &latencies);
    println!("  graph + exact tail        recall@{K} {recall:.3}");
    let started = Instant::now();
    store.fold_vector_index(big.kb.id, args.dims as i32, INDEX_BUILD_MEMORY_MB, |_| true).await?;
    println!(
        "  folded into the next index of {} chunks in {:.1} s (concurrently with writes)",
        big.vectors.len(),
        started.elapsed().as_secs_f64()
    );
    analyze(store).await;
    let (latencies, recall) = measure(store, space, big, args.queries, EF_SEARCH).await?;
    print_latencies("  after the fold          ", &latencies);
    println!("  after the fold            recall@{K} {recall:.3}");
    Ok(())
}

async fn sqlite(args: &RagBenchArgs, space: &Space) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(None, dir.path()).await?;
    store.migrate().await?;
    let started = Instant::now();
    let base = Base::load(&store, space, args.sqlite_chunks, "sqlite").await?;
    println!(
        "\nsqlite: loaded {} chunks in {:.1} s; exact scan of the base per search",
        args.sqlite_chunks,
        started.elapsed().as_secs_f64()
    );
    let (latencies, recall) = measure(&store, space, &base, args.queries.min(50), EF_SEARCH).await?;
    print_latencies("  one base", &latencies);
    println!("  one base  recall@{K} {recall:.3}");
    Ok(())
}

/// Times `queries` searches of `base` and their mean recall@K against an exact search.
async fn measure(
    store: &Store,
    space: &Space,
    base: &Base,
    queries: usize,
    ef_search: i64,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    let mut latencies = Vec::with_capacity(queries);
    let mut recall = 0.0;
    for _ in 0..queries {
        let query = space.sample();
        let started = Instant::now();
        let found = store.vector_search_with(base.kb.id, space.dims as i32, &query, K as i64, ef_search).await?;
        latencies.push(started.elapsed());
        let exact = base.exact(&query);
        let hits = found.iter().filter(|(id, _)| exact.contains(id)).count();
        recall += hits as f64 / K as f64;
    }
    latencies.sort();
    Ok((latencies, recall / queries as f64))
}

/// Unit vectors around random cluster centres.
struct Space {
    dims: usize,
    centres: Vec<Vec<f32>>,
}

impl Space {
    fn new(dims: usize, clusters: usize) -> Self {
        let mut rng = rand::rng();
        let centres =
            (0..clusters.max(1)).map(|_| unit((0..dims).map(|_| rng.random::<f32>() - 0.5).collect())).collect();
        Space { dims, centres }
    }

    /// A point near a random centre (noise of about a third of the centre's length).
    fn sample(&self) -> Vec<f32> {
        let mut rng = rand::rng();
        let centre = &self.centres[rng.random_range(0..self.centres.len())];
        let spread = 0.6 / (self.dims as f32).sqrt();
        unit(centre.iter().map(|c| c + (rng.random::<f32>() - 0.5) * 2.0 * spread * 1.7).collect())
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// A knowledge base loaded with vectors, and the vectors by chunk id for exact search.
struct Base {
    label: &'static str,
    kb: KnowledgeBase,
    vectors: Vec<(Uuid, Vec<f32>)>,
}

impl Base {
    async fn load(store: &Store, space: &Space, chunks: usize, label: &'static str) -> anyhow::Result<Base> {
        let now = now_ms();
        let user = store
            .create_user(oblivious_store::NewUser {
                username: format!("bench-{}", Uuid::now_v7().simple()),
                email: format!("bench-{}@example.invalid", Uuid::now_v7().simple()),
                password_hash: "!".into(),
                ..oblivious_store::NewUser::default()
            })
            .await?;
        let mut kb = oblivious_rag::models::new_knowledge_base(user.id, "bench".into(), now);
        kb.name = label.into();
        kb.embedding_dims = Some(space.dims as i32);
        kb.chunk_overlap = 0;
        kb.top_k = K as i32;
        store.insert_knowledge_base(&kb).await?;
        let mut base = Base { label, kb, vectors: Vec::with_capacity(chunks) };
        base.append(store, space, chunks).await?;
        Ok(base)
    }

    /// Writes `chunks` more chunks to the base, a file of `FILE_CHUNKS` at a time.
    async fn append(&mut self, store: &Store, space: &Space, chunks: usize) -> anyhow::Result<()> {
        let mut loaded = 0;
        while loaded < chunks {
            let count = FILE_CHUNKS.min(chunks - loaded);
            self.vectors.extend(load_file(store, space, &self.kb, count).await?);
            loaded += count;
            eprint!("\r{}: {loaded} / {chunks} chunks", self.label);
        }
        eprintln!();
        Ok(())
    }

    /// The ids of the K nearest vectors by cosine (all are unit vectors: the dot product).
    fn exact(&self, query: &[f32]) -> HashSet<Uuid> {
        let mut scored: Vec<(f32, Uuid)> =
            self.vectors.iter().map(|(id, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum::<f32>(), *id)).collect();
        let nth = K.min(scored.len() - 1);
        scored.select_nth_unstable_by(nth, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(K);
        scored.into_iter().map(|(_, id)| id).collect()
    }
}

/// One file of `count` chunks, written as ingestion writes it: returns its vectors by chunk id.
async fn load_file(
    store: &Store,
    space: &Space,
    kb: &KnowledgeBase,
    count: usize,
) -> anyhow::Result<Vec<(Uuid, Vec<f32>)>> {
    let now = now_ms();
    let id = Uuid::now_v7();
    let file = FileRecord {
        id,
        user_id: kb.user_id,
        name: format!("{id}.txt"),
        media_type: "text/plain".into(),
        size_bytes: 1,
        sha256: id.simple().to_string(),
        object_key: format!("bench/{id}"),
        created_at: now,
    };
    store.insert_file(&file).await?;
    store.add_knowledge_file(kb.user_id, kb.id, id, QueuedBy::default(), now).await?;
    let claim = store.claim_ingestion(now, now + 600_000).await?.context("the queued file was not claimable")?;
    let chunks: Vec<NewChunk> = (0..count)
        .map(|n| NewChunk {
            ordinal: n as i32,
            text: format!("chunk {n}"),
            tokens: 2,
            heading: String::new(),
            page: None,
        })
        .collect();
    store.upsert_chunks(&claim, &chunks).await?;
    let pending = store.unembedded_chunks(kb.id, id, count as i64).await?;
    let vectors: Vec<(Uuid, Vec<f32>)> = pending.into_iter().map(|chunk| (chunk.id, space.sample())).collect();
    store.store_embeddings(&claim, &vectors).await?;
    store.finish_ingestion(&claim, None, now_ms()).await?;
    Ok(vectors)
}
