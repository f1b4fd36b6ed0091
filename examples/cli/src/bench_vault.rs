//! `coffer bench vault`: the Vault end to end on a store (default: a local directory in a temp
//! dir; `--store URL` for S3 or IPFS), each figure beside a baseline measured in the same run.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use coffer::Identity;
use coffer::block::Cid;
use coffer::index::ListRequest;
use coffer::store::{
    BlobSource, BlockStore, ByteStream, ConditionalWrites, DirStore, Head, HeadCondition,
    HeadStore, HeadVersion, StoreResult,
};
use coffer::vault::{PutOptions, Vault};
use serde_json::json;

use crate::bench::round;
use crate::config::{AnyStore, StoreUrl};
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench vault`.
#[derive(clap::Args, Debug)]
pub struct VaultBenchArgs {
    /// The store (default: a fresh local directory in a temp dir).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Number of small objects to put and get.
    #[arg(long, default_value_t = 10_000)]
    small: usize,
    /// Small objects per commit in the grouped put (uploads, then one commit per group).
    #[arg(long, default_value_t = 100)]
    group: usize,
    /// Size of each small object.
    #[arg(long, default_value = "1KiB", value_parser = files::parse_size)]
    small_size: u64,
    /// Size of the big object (generated into a temp file first).
    #[arg(long, default_value = "2GiB", value_parser = files::parse_size)]
    big: u64,
    /// Objects in the vault the listing page is taken from.
    #[arg(long, default_value_t = 1_000_000)]
    vault_objects: usize,
    /// Changes each of two devices makes before they sync.
    #[arg(long, default_value_t = 1_000)]
    sync_changes: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Counts what reads fetch from the store (blocks and bytes), and the bytes written (blocks and
/// heads).
pub(crate) struct Counted<S: ?Sized> {
    inner: Arc<S>,
    blocks: AtomicU64,
    bytes: AtomicU64,
    written: AtomicU64,
}

impl<S: ?Sized> Counted<S> {
    pub(crate) fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            blocks: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }
    /// Bytes written since the last call.
    pub(crate) fn take_written(&self) -> u64 {
        self.written.swap(0, Ordering::Relaxed)
    }
    fn note(&self, n: usize) {
        self.blocks.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn take(&self) -> (u64, u64) {
        (
            self.blocks.swap(0, Ordering::Relaxed),
            self.bytes.swap(0, Ordering::Relaxed),
        )
    }
}

#[async_trait::async_trait]
impl<S: BlockStore + ?Sized> BlockStore for Counted<S> {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.inner.put(cid, bytes).await
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let b = self.inner.get(cid).await?;
        self.note(b.len());
        Ok(b)
    }
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let b = self.inner.get_range(cid, range).await?;
        self.note(b.len());
        Ok(b)
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.inner.has(cid).await
    }
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.inner.delete(cid).await
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.inner.list().await
    }
    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        self.written.fetch_add(len.unwrap_or(0), Ordering::Relaxed);
        self.inner.put_stream(cid, source, len).await
    }
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        self.note(0);
        self.inner.get_stream(cid).await
    }
}

#[async_trait::async_trait]
impl<S: HeadStore + ?Sized> HeadStore for Counted<S> {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        self.inner.read_heads(vault).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        self.written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.inner.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> ConditionalWrites {
        self.inner.conditional_writes()
    }
}

pub(crate) fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Writes `size` bytes of incompressible data to `path` (the big object's source).
fn write_source(path: &std::path::Path, size: u64) -> CliResult {
    use std::io::Write;
    let f = std::fs::File::create(path).map_err(|e| CliError::io(path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut pool = vec![0u8; 1 << 20];
    let mut left = size;
    let mut n = 0u64;
    while left > 0 {
        blake3::Hasher::new()
            .update(&n.to_le_bytes())
            .finalize_xof()
            .fill(&mut pool[..64]);
        pool.rotate_left(64 + (n as usize % 4096));
        let take = left.min(pool.len() as u64) as usize;
        w.write_all(&pool[..take])
            .map_err(|e| CliError::io(path, e))?;
        left -= take as u64;
        n += 1;
    }
    w.flush().map_err(|e| CliError::io(path, e))
}

/// `coffer bench vault`.
pub fn run(args: VaultBenchArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(format!("temp dir: {e}")))?;
    let me = Identity::generate();
    let tag = format!(
        "bench-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let store_label = args
        .store
        .clone()
        .unwrap_or_else(|| "file (temp dir)".into());
    let report = block_on(async {
        let base: Arc<dyn AnyStore> = match &args.store {
            Some(url) => StoreUrl::parse(url)?.connect().await?,
            None => Arc::new(
                DirStore::open(tmp.path().join("store"))
                    .map_err(|e| CliError::other(e.to_string()))?,
            ),
        };
        let store = Arc::new(Counted::new(base.clone()));
        let mut v = Vault::create(store.clone(), me.clone(), &tag, "bench")
            .await
            .map_err(vault_error)?;

        // The big object first, so the peak RSS is its own (VmHWM only grows).
        let src = tmp.path().join("big.bin");
        write_source(&src, args.big)?;
        let t = Instant::now();
        v.put_source(b"big.bin", &mut src.clone(), PutOptions::default(), None)
            .await
            .map_err(vault_error)?;
        let big_put = secs(t);
        let t = Instant::now();
        v.get_to(b"big.bin", futures_util::io::sink(), None)
            .await
            .map_err(vault_error)?;
        let big_get = secs(t);
        let big_rss = crate::bench::peak_rss_mib();
        std::fs::remove_file(&src).map_err(|e| CliError::io(&src, e))?;
        // Baseline: the same bytes sealed in memory on one core (the serial limit of a put).
        let t = Instant::now();
        let probe = (args.big.min(256 << 20)) as usize;
        let sealed = coffer::seal::seal_to_vec(
            &coffer::seal::SealOptions::new(vec![me.recipient().clone()]),
            &vec![7u8; probe],
        )
        .map_err(|e| CliError::other(e.to_string()))?;
        let outboard = coffer::verify::Outboard::compute(&sealed);
        drop((sealed, outboard));
        let seal_mib_s = probe as f64 / 1048576.0 / secs(t);

        // Small objects.
        let small: Vec<u8> = vec![42u8; args.small_size as usize];
        let t = Instant::now();
        for i in 0..args.small {
            v.put(
                format!("small/{i:06}").as_bytes(),
                small.clone(),
                PutOptions::default(),
            )
            .await
            .map_err(vault_error)?;
        }
        let small_put = secs(t);
        store.take();
        let t = Instant::now();
        for i in 0..args.small {
            v.get(format!("small/{i:06}").as_bytes())
                .await
                .map_err(vault_error)?;
        }
        let small_get = secs(t);
        let (small_get_blocks, _) = store.take();
        // The same puts grouped: uploads one after another (as the puts above, so the ratio to
        // the serial raw puts compares like with like), one commit per `group` objects.
        let group = args.group.max(1);
        let t = Instant::now();
        let mut start = 0;
        while start < args.small {
            let end = (start + group).min(args.small);
            let mut uploads = Vec::with_capacity(end - start);
            for i in start..end {
                uploads.push(
                    v.upload(
                        format!("grouped/{i:06}").as_bytes(),
                        small.clone(),
                        PutOptions::default(),
                    )
                    .await
                    .map_err(vault_error)?,
                );
            }
            for r in v.commit_uploads(uploads).await.map_err(vault_error)? {
                r.map_err(vault_error)?;
            }
            start = end;
        }
        let grouped_put = secs(t);
        // Baseline: the same number of raw block puts and gets on the bare store.
        let t = Instant::now();
        let mut cids = Vec::with_capacity(args.small);
        for i in 0..args.small {
            let mut b = small.clone();
            b.extend_from_slice(&(i as u64).to_le_bytes());
            let cid = coffer::block::raw_cid(&b);
            base.put(&cid, Bytes::from(b))
                .await
                .map_err(|e| CliError::other(e.to_string()))?;
            cids.push(cid);
        }
        let raw_put = secs(t);
        let t = Instant::now();
        for cid in &cids {
            base.get(cid)
                .await
                .map_err(|e| CliError::other(e.to_string()))?;
        }
        let raw_get = secs(t);

        // A listing page in a big vault.
        let t = Instant::now();
        v.bench_fill("many/", args.vault_objects)
            .await
            .map_err(vault_error)?;
        let fill = secs(t);
        let pages = 20usize;
        let mut page_total = 0.0;
        for p in 0..pages {
            let start = (args.vault_objects / pages) * p;
            let req = ListRequest {
                prefix: b"many/".to_vec(),
                start_after: Some(format!("many/{start:09}").into_bytes()),
                max_keys: Some(1000),
                ..Default::default()
            };
            let t = Instant::now();
            let page = v.list(&req).await.map_err(vault_error)?;
            page_total += secs(t);
            if page.contents.is_empty() {
                return Err(CliError::other("the listing bench got an empty page"));
            }
        }
        let page_ms = page_total / pages as f64 * 1000.0;

        // Two devices, `sync_changes` changes each, then syncs.
        let mut other = Vault::open(store.clone(), me.clone(), &tag, "bench-2")
            .await
            .map_err(vault_error)?;
        other.sync().await.map_err(vault_error)?;
        v.sync().await.map_err(vault_error)?;
        for i in 0..args.sync_changes {
            v.put(
                format!("sync/a/{i:06}").as_bytes(),
                small.clone(),
                PutOptions::default(),
            )
            .await
            .map_err(vault_error)?;
            other
                .put(
                    format!("sync/b/{i:06}").as_bytes(),
                    small.clone(),
                    PutOptions::default(),
                )
                .await
                .map_err(vault_error)?;
        }
        store.take();
        let t = Instant::now();
        v.sync().await.map_err(vault_error)?;
        other.sync().await.map_err(vault_error)?;
        let sync_s = secs(t);
        let (sync_blocks, sync_bytes) = store.take();
        if v.root() != other.root() {
            v.sync().await.map_err(vault_error)?;
        }
        let total_keys = args.vault_objects + 2 * args.small + 2 * args.sync_changes + 2;

        Ok(json!({
            "store": store_label,
            "big_bytes": args.big,
            "big_put_mib_s": round(args.big as f64 / 1048576.0 / big_put),
            "big_get_mib_s": round(args.big as f64 / 1048576.0 / big_get),
            "big_peak_rss_mib": big_rss.map(round),
            "seal_baseline_mib_s": round(seal_mib_s),
            "big_put_ratio_to_seal": round(args.big as f64 / 1048576.0 / big_put / seal_mib_s),
            "small_objects": args.small,
            "small_put_ops_s": round(args.small as f64 / small_put),
            "small_get_ops_s": round(args.small as f64 / small_get),
            "small_get_blocks_per_op": round(small_get_blocks as f64 / args.small as f64),
            "raw_block_put_ops_s": round(args.small as f64 / raw_put),
            "raw_block_get_ops_s": round(args.small as f64 / raw_get),
            "small_put_ratio_to_raw": round(raw_put / small_put),
            "small_group": group,
            "small_grouped_put_ops_s": round(args.small as f64 / grouped_put),
            "small_grouped_put_ratio_to_raw": round(raw_put / grouped_put),
            "small_get_ratio_to_raw": round(raw_get / small_get),
            "vault_objects": args.vault_objects,
            "vault_fill_s": round(fill),
            "page_ms": round(page_ms),
            "sync_changes_per_device": args.sync_changes,
            "sync_s": round(sync_s),
            "sync_blocks": sync_blocks,
            "sync_bytes": sync_bytes,
            "vault_keys": total_keys,
        }))
    })?;
    if args.json {
        println!("{report}");
    } else {
        println!("coffer bench vault on {store_label}");
        if let Some(obj) = report.as_object() {
            for (k, v) in obj {
                println!("  {k:<28} {v}");
            }
        }
    }
    Ok(())
}
