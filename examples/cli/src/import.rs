//! `coffer import SOURCE [--to PREFIX]`: bring an existing S3 bucket (`s3://bucket/prefix`, any
//! endpoint, its own credentials: [`crate::import_s3`]) or a local directory tree
//! ([`crate::import_dir`]) into the vault.
//!
//! Every source object becomes the key `PREFIX/` + its key minus the source prefix, with its
//! content type, user metadata (`x-amz-meta-*`) and modification time (`coffer-mtime`, as
//! `put -r` keeps it). Objects go through the normal put path ([`coffer::vault::Vault::upload`],
//! or [`coffer::vault::Vault::upload_source`] from a spooled file for objects over 8 MiB, so
//! memory stays bounded), `--jobs` at once, and each is **verified before it is committed**: the
//! sealed object is read back from the store ([`coffer::vault::Vault::read_upload_to`]: checked
//! against its CID, every segment authenticated) and its plaintext's BLAKE3 compared with the
//! hash of the bytes read from the source. Verified uploads are committed every `--commit-every`
//! objects with one head write.
//!
//! **Resume.** What is committed is the checkpoint: it lives in the vault (sealed like every
//! object), so an interrupted import run again skips every object the vault already holds
//! unchanged (S3: same size and the source ETag, kept as the object's S3 ETag and answered by a
//! vault listing; directories: same size and modification time, as `put -r` decides) and
//! continues with the rest (`docs/decisions.md`).
//!
//! `--delete-source` deletes a source object only once its import was verified and committed in
//! this run; never one skipped, failed, or found already imported.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coffer::vault::{PutOptions, Upload, VaultError};
use serde_json::json;
use tokio::sync::RwLock;

use crate::config::{CliVault, StoreUrl};
use crate::tree::{self, Bar, META_BLAKE3, META_MTIME};
use crate::vault_cmd::{block_on, print_json, vault_error};
use crate::{CliError, CliResult};

/// Objects up to this size are read into memory and sealed once; larger ones are spooled to a
/// temporary file and stream ([`coffer::vault::Vault::upload_source`]).
pub const WHOLE_OBJECT_MAX: u64 = 8 << 20;

/// Options of `coffer import SOURCE` (beside `--car FILE`).
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Put every imported object under this key prefix (default: the vault's root).
    #[arg(long = "to", value_name = "KEYPREFIX", default_value = "")]
    pub to: String,
    /// How many objects move at once.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// Commit after this many verified objects (what was committed survives an interruption).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub commit_every: u32,
    /// Delete each source object once its import is verified and committed (never a skipped or
    /// failed one).
    #[arg(long)]
    pub delete_source: bool,
    /// Print each commit, and each object skipped or failed as it happens.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[command(flatten)]
    pub s3: S3SourceArgs,
}

/// Where an `s3://` source is and how to sign in (flags of `coffer import`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct S3SourceArgs {
    /// s3:// sources: the endpoint of an S3-compatible server (default: AWS; or `?endpoint=` in
    /// the URL).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// s3:// sources: path-style addressing (`endpoint/bucket/key`), as most self-hosted
    /// servers need.
    #[arg(long)]
    pub path_style: bool,
    /// s3:// sources: the region (default: the AWS configuration's, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// s3:// sources: a profile of the AWS shared config and credentials files.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// s3:// sources: the access key id (with --secret-access-key-file).
    #[arg(long, value_name = "ID")]
    pub access_key_id: Option<String>,
    /// s3:// sources: a file holding the secret access key (never on the command line).
    #[arg(long, value_name = "FILE")]
    pub secret_access_key_file: Option<PathBuf>,
}

impl S3SourceArgs {
    /// Whether any S3 option was given.
    pub fn is_given(&self) -> bool {
        self.endpoint.is_some()
            || self.path_style
            || self.region.is_some()
            || self.profile.is_some()
            || self.access_key_id.is_some()
            || self.secret_access_key_file.is_some()
    }
}

impl SourceArgs {
    /// Whether any option other than the defaults was given.
    pub fn is_given(&self) -> bool {
        !self.to.is_empty()
            || self.jobs != 16
            || self.commit_every != 1000
            || self.delete_source
            || self.verbose
            || self.s3.is_given()
    }
}

/// One object of the source, as listed.
#[derive(Clone, Debug)]
pub struct Item {
    /// The source's name for it (S3 key, or path relative to the directory), for reports.
    pub name: String,
    /// Its key relative to the source prefix.
    pub rel: String,
    /// Size as listed.
    pub size: u64,
    /// ETag as listed, without quotes (S3).
    #[cfg_attr(not(feature = "stores"), allow(dead_code))]
    pub etag: Option<String>,
    /// Modification time as listed, ns since the Unix epoch (directories).
    pub mtime_ns: Option<u128>,
    /// The file (directories).
    pub path: Option<PathBuf>,
}

/// An object read from the source, ready to upload.
pub struct Fetched {
    /// The bytes, in memory or spooled to a file.
    pub body: Body,
    /// BLAKE3 of the bytes read from the source.
    pub blake3: blake3::Hash,
    /// Content type, user metadata (with `coffer-mtime`), and the S3 ETag to keep.
    pub opts: PutOptions,
}

/// Where a fetched object's bytes are.
pub enum Body {
    /// Read whole.
    Memory(Vec<u8>),
    /// A file that holds them: the source file itself, or a spool file (removed with `_spool`).
    File {
        /// The file.
        path: PathBuf,
        /// The spool file to remove once uploaded.
        _spool: Option<tempfile::TempPath>,
    },
}

/// Why one object was not imported.
#[derive(Debug)]
pub enum Refused {
    /// Skipped, with the reason (an invalid key, an object that changed during the import).
    Skipped(String),
    /// Failed (a read, upload, verification or commit error).
    Failed(CliError),
}

impl From<CliError> for Refused {
    fn from(e: CliError) -> Self {
        Self::Failed(e)
    }
}

/// A source to import from.
pub enum Source {
    /// An S3 bucket (prefix).
    #[cfg(feature = "stores")]
    S3(crate::import_s3::S3Source),
    /// A local directory tree.
    Dir(crate::import_dir::DirSource),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            #[cfg(feature = "stores")]
            Self::S3(s) => s.describe(),
            Self::Dir(d) => d.describe(),
        }
    }

    async fn list(&self, skipped: &mut Vec<(String, String)>) -> CliResult<Vec<Item>> {
        match self {
            #[cfg(feature = "stores")]
            Self::S3(s) => s.list().await,
            Self::Dir(d) => d.list(skipped),
        }
    }

    #[cfg_attr(not(feature = "stores"), allow(unused_variables))]
    async fn fetch(
        &self,
        item: &Item,
        spool: &std::path::Path,
        progress: &indicatif::ProgressBar,
    ) -> Result<Fetched, Refused> {
        match self {
            #[cfg(feature = "stores")]
            Self::S3(s) => s.fetch(item, spool, progress).await,
            Self::Dir(d) => d.fetch(item, progress),
        }
    }

    async fn delete(&self, item: &Item) -> CliResult {
        match self {
            #[cfg(feature = "stores")]
            Self::S3(s) => s.delete(item).await,
            Self::Dir(d) => d.delete(item),
        }
    }

    /// Whether the vault's object (listed as `size`, `s3_etag`) is already this item's import.
    #[cfg_attr(not(feature = "stores"), allow(unused_variables))]
    async fn already_imported(
        &self,
        vault: &CliVault,
        key: &str,
        item: &Item,
        listed: Option<&(u64, Option<String>)>,
    ) -> bool {
        let Some((size, s3_etag)) = listed else {
            return false;
        };
        if *size != item.size {
            return false;
        }
        match self {
            #[cfg(feature = "stores")]
            Self::S3(_) => item.etag.is_some() && s3_etag.as_deref() == item.etag.as_deref(),
            Self::Dir(_) => {
                // As `put -r` decides: the same modification time in the object's metadata.
                let Ok(info) = vault.head(key.as_bytes()).await else {
                    return false;
                };
                item.mtime_ns.is_some() && tree::object_mtime(&info) == item.mtime_ns
            }
        }
    }
}

/// Runs `coffer import SOURCE`.
pub fn run(
    source: &str,
    args: &SourceArgs,
    vault: crate::config::Resolved,
    json: bool,
    quiet: bool,
) -> CliResult {
    let started = Instant::now();
    let target = StoreUrl::parse(&vault.store)?;
    block_on(async move {
        let source = Arc::new(open_source(source, args, &target).await?);
        let mut summary = ImportSummary {
            source: source.describe(),
            ..Default::default()
        };
        let items = source.list(&mut summary.skipped).await?;
        summary.listed = items.len() as u64;
        let vault = vault.open().await?;
        let todo = plan(&source, &vault, args, items, &mut summary).await?;
        import_all(source, vault, args, todo, &mut summary, quiet).await?;
        summary.seconds = started.elapsed().as_secs_f64();
        summary.finish(json)
    })
}

async fn open_source(source: &str, args: &SourceArgs, target: &StoreUrl) -> CliResult<Source> {
    if source.starts_with("s3://") {
        #[cfg(feature = "stores")]
        return Ok(Source::S3(
            crate::import_s3::S3Source::new(source, &args.s3, target).await?,
        ));
        #[cfg(not(feature = "stores"))]
        return Err(CliError::usage(
            "this coffer was built without S3 support; rebuild with --features stores",
        ));
    }
    if source.contains("://") {
        return Err(CliError::usage(format!(
            "cannot import from {source:?}: a source is s3://bucket/prefix or a local directory"
        )));
    }
    if args.s3.is_given() {
        return Err(CliError::usage(
            "--endpoint, --region, --path-style, --profile and the key options are for s3:// sources",
        ));
    }
    Ok(Source::Dir(crate::import_dir::DirSource::new(
        source, target,
    )?))
}

/// The vault key of `rel` under `--to`, or why it cannot be one.
fn vault_key(to: &str, rel: &str) -> Result<String, String> {
    if rel.is_empty() {
        return Err(
            "the source prefix itself (a folder marker), not an object under it: not imported"
                .into(),
        );
    }
    let key = tree::join_key(to, rel);
    if key.len() > coffer::index::MAX_KEY_LEN {
        return Err(format!(
            "not a valid vault key: {} bytes (at most {})",
            key.len(),
            coffer::index::MAX_KEY_LEN
        ));
    }
    Ok(key)
}

/// Drops what cannot be imported (reported as skipped) and what the vault already holds
/// (counted as already imported); returns the rest with their vault keys.
async fn plan(
    source: &Source,
    vault: &CliVault,
    args: &SourceArgs,
    items: Vec<Item>,
    summary: &mut ImportSummary,
) -> CliResult<Vec<(String, Item)>> {
    let listed = list_vault(vault, &tree::list_prefix(&args.to)).await?;
    let mut candidates = Vec::new();
    for item in items {
        match vault_key(&args.to, &item.rel) {
            Ok(key) => candidates.push((key, item)),
            Err(why) => summary.skipped.push((item.name, why)),
        }
    }
    let listed = &listed;
    let checks = futures_util::StreamExt::collect::<Vec<_>>(futures_util::StreamExt::buffered(
        futures_util::stream::iter(candidates.into_iter().map(|(key, item)| async move {
            let same = source
                .already_imported(vault, &key, &item, listed.get(&key))
                .await;
            (key, item, same)
        })),
        args.jobs as usize,
    ))
    .await;
    let mut todo = Vec::new();
    for (key, item, same) in checks {
        if same {
            summary.already += 1;
        } else {
            todo.push((key, item));
        }
    }
    Ok(todo)
}

/// Every object under `prefix`: key → (size, S3 ETag).
async fn list_vault(
    vault: &CliVault,
    prefix: &str,
) -> CliResult<HashMap<String, (u64, Option<String>)>> {
    let mut req = coffer::vault::ListRequest {
        prefix: prefix.as_bytes().to_vec(),
        ..Default::default()
    };
    let mut out = HashMap::new();
    loop {
        let page = vault.list(&req).await.map_err(vault_error)?;
        for o in page.contents {
            out.insert(
                String::from_utf8_lossy(&o.key).into_owned(),
                (o.size, o.s3_etag),
            );
        }
        match page.next_continuation_token {
            Some(t) => req.continuation_token = Some(t),
            None => return Ok(out),
        }
    }
}

/// What the progress line reads beside the bar's bytes.
#[derive(Default)]
struct Counters {
    done: AtomicU64,
}

/// Imports `todo`, `--jobs` at once, committing every `--commit-every` verified objects.
async fn import_all(
    source: Arc<Source>,
    vault: CliVault,
    args: &SourceArgs,
    todo: Vec<(String, Item)>,
    summary: &mut ImportSummary,
    quiet: bool,
) -> CliResult {
    let total_bytes: u64 = todo.iter().map(|(_, i)| i.size).sum();
    let total = todo.len() as u64;
    let bar = Bar::new("import", total, total_bytes);
    bar.set_unit("objects");
    let counters = Arc::new(Counters::default());
    let ticker = (!quiet && bar.is_hidden()).then(|| {
        let counters = counters.clone();
        let bar = bar.handle();
        let started = Instant::now();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let bytes = bar.position();
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "import: {}/{total} objects, {} of {} ({}/s)",
                    counters.done.load(Ordering::Relaxed),
                    tree::human_bytes(bytes),
                    tree::human_bytes(total_bytes),
                    tree::human_bytes((bytes as f64 / secs) as u64),
                );
            }
        })
    });
    if quiet {
        bar.hide();
    }
    let spool = tempfile::tempdir()
        .map_err(|e| CliError::other(format!("cannot make a temporary directory: {e}")))?;
    let spool_path = Arc::new(spool.path().to_path_buf());
    let vault = Arc::new(RwLock::new(vault));
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = todo.into_iter();
    let mut pending: Vec<(Item, Upload)> = Vec::new();
    let jobs = args.jobs as usize;
    let commit_every = args.commit_every as usize;
    let mut report = Reporter {
        bar: &bar,
        verbose: args.verbose,
    };
    loop {
        while tasks.len() < jobs {
            let Some((key, item)) = queue.next() else {
                break;
            };
            let vault = vault.clone();
            let source = source.clone();
            let progress = bar.handle();
            let spool = spool_path.clone();
            tasks.spawn(async move {
                let v = vault.read().await;
                let r = import_one(&source, &v, &key, &item, &spool, &progress).await;
                (item, r)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (item, result) =
            joined.map_err(|e| CliError::other(format!("an import task failed: {e}")))?;
        counters.done.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(up) => pending.push((item, up)),
            Err(refused) => report.refused(summary, item.name, refused),
        }
        if pending.len() >= commit_every {
            commit(&source, &vault, &mut pending, summary, &mut report, args).await?;
        }
        bar.files_done(counters.done.load(Ordering::Relaxed));
    }
    commit(&source, &vault, &mut pending, summary, &mut report, args).await?;
    if let Some(t) = ticker {
        t.abort();
    }
    bar.finish();
    Ok(())
}

/// Prints what happens to single objects.
struct Reporter<'a> {
    bar: &'a Bar,
    verbose: bool,
}

impl Reporter<'_> {
    fn refused(&mut self, summary: &mut ImportSummary, name: String, why: Refused) {
        match why {
            Refused::Skipped(reason) => {
                if self.verbose {
                    self.bar
                        .println(format!("coffer: skipped {}: {reason}", show(&name)));
                }
                summary.skipped.push((name, reason));
            }
            Refused::Failed(e) => {
                if self.verbose {
                    self.bar
                        .println(format!("coffer: failed {}: {}", show(&name), e.message));
                }
                summary.failed.push((name, e));
            }
        }
    }
}

/// A source name as printed (control characters escaped).
fn show(name: &str) -> String {
    crate::escape::text(name).to_string()
}

/// Reads one object from the source, seals and stores it, and reads it back verified (not
/// committed).
async fn import_one(
    source: &Source,
    vault: &CliVault,
    key: &str,
    item: &Item,
    spool: &std::path::Path,
    progress: &indicatif::ProgressBar,
) -> Result<Upload, Refused> {
    let Fetched {
        body,
        blake3: want,
        opts,
    } = source.fetch(item, spool, progress).await?;
    let failed = |e: VaultError| match e {
        VaultError::SourceChanged => {
            Refused::Skipped("changed while it was read: not imported".into())
        }
        VaultError::InvalidKey(m) => Refused::Skipped(format!("not a valid vault key: {m}")),
        VaultError::KeyTooLong { len } => {
            Refused::Skipped(format!("not a valid vault key: {len} bytes"))
        }
        other => Refused::Failed(vault_error(other)),
    };
    let upload = match body {
        Body::Memory(bytes) => vault.upload(key.as_bytes(), bytes, opts).await,
        // `_spool` keeps a spool file until the upload is done.
        Body::File { mut path, _spool } => {
            vault
                .upload_source(key.as_bytes(), &mut path, opts, None)
                .await
        }
    }
    .map_err(failed)?;
    // The proof: the store's copy, checked against its CID and decrypted, is the source's bytes.
    let mut check = HashWriter(blake3::Hasher::new());
    vault
        .read_upload_to(&upload, &mut check, None)
        .await
        .map_err(|e| {
            Refused::Failed(CliError::integrity(format!(
                "reading the stored object back failed: {}",
                vault_error(e).message
            )))
        })?;
    if check.0.finalize() != want {
        return Err(Refused::Failed(CliError::integrity(
            "the object read back from the store differs from the source: not committed",
        )));
    }
    Ok(upload)
}

/// Hashes what is written to it.
struct HashWriter(blake3::Hasher);

impl futures_util::AsyncWrite for HashWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.update(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Commits what is pending with one head write, then (with --delete-source) deletes the
/// sources of what was committed.
async fn commit(
    source: &Source,
    vault: &RwLock<CliVault>,
    pending: &mut Vec<(Item, Upload)>,
    summary: &mut ImportSummary,
    report: &mut Reporter<'_>,
    args: &SourceArgs,
) -> CliResult {
    if pending.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(pending);
    let (items, uploads): (Vec<Item>, Vec<Upload>) = batch.into_iter().unzip();
    let results = vault
        .write()
        .await
        .commit_uploads(uploads)
        .await
        .map_err(vault_error)?;
    summary.commits += 1;
    let mut committed = Vec::new();
    for (item, r) in items.into_iter().zip(results) {
        match r {
            Ok(info) => {
                summary.imported += 1;
                summary.bytes += info.size;
                committed.push(item);
            }
            Err(e) => report.refused(summary, item.name, Refused::Failed(vault_error(e))),
        }
    }
    if report.verbose {
        report.bar.println(format!(
            "committed {} objects ({} so far)",
            committed.len(),
            summary.imported
        ));
    }
    if args.delete_source {
        let deletes =
            futures_util::StreamExt::collect::<Vec<_>>(futures_util::StreamExt::buffered(
                futures_util::stream::iter(committed.into_iter().map(|item| async move {
                    let r = source.delete(&item).await;
                    (item, r)
                })),
                args.jobs as usize,
            ))
            .await;
        for (item, r) in deletes {
            match r {
                Ok(()) => summary.deleted += 1,
                Err(e) => summary.delete_failed.push((item.name, e)),
            }
        }
    }
    Ok(())
}

/// What an import did.
#[derive(Debug, Default)]
struct ImportSummary {
    source: String,
    listed: u64,
    imported: u64,
    bytes: u64,
    already: u64,
    skipped: Vec<(String, String)>,
    failed: Vec<(String, CliError)>,
    deleted: u64,
    delete_failed: Vec<(String, CliError)>,
    commits: u64,
    seconds: f64,
}

impl ImportSummary {
    /// Prints the report (JSON on stdout with --json, text otherwise; what was skipped or
    /// failed on stderr) and turns anything not imported into an error.
    fn finish(mut self, json: bool) -> CliResult {
        let secs = self.seconds.max(1e-9);
        let mib_s = self.bytes as f64 / (1 << 20) as f64 / secs;
        let objects_s = self.imported as f64 / secs;
        for (name, why) in &self.skipped {
            eprintln!("coffer: skipped {}: {why}", show(name));
        }
        for (name, e) in &self.failed {
            eprintln!("coffer: failed {}: {}", show(name), e.message);
        }
        for (name, e) in &self.delete_failed {
            eprintln!(
                "coffer: imported {} but could not delete the source: {}",
                show(name),
                e.message
            );
        }
        if json {
            let list = |v: &[(String, String)]| {
                v.iter()
                    .map(|(k, r)| json!({"key": k, "reason": r}))
                    .collect::<Vec<_>>()
            };
            let errors = |v: &[(String, CliError)]| {
                v.iter()
                    .map(|(k, e)| json!({"key": k, "error": e.message, "exit_code": e.code}))
                    .collect::<Vec<_>>()
            };
            print_json(&json!({
                "source": self.source,
                "listed": self.listed,
                "imported": self.imported,
                "bytes": self.bytes,
                "already_imported": self.already,
                "skipped": list(&self.skipped),
                "failed": errors(&self.failed),
                "deleted": self.deleted,
                "delete_failed": errors(&self.delete_failed),
                "commits": self.commits,
                "verification": "read-back",
                "seconds": self.seconds,
                "mib_per_s": mib_s,
                "objects_per_s": objects_s,
            }))?;
        } else {
            println!(
                "import from {}: {} objects ({}) in {:.1} s ({mib_s:.1} MiB/s, {objects_s:.0} objects/s); \
                 {} already imported, {} skipped, {} failed{}",
                self.source,
                self.imported,
                tree::human_bytes(self.bytes),
                self.seconds,
                self.already,
                self.skipped.len(),
                self.failed.len(),
                if self.deleted > 0 {
                    format!(", {} source objects deleted", self.deleted)
                } else {
                    String::new()
                }
            );
        }
        if let Some(first) = (!self.failed.is_empty()).then(|| self.failed.swap_remove(0)) {
            let n = self.failed.len() + 1;
            let (name, mut e) = first;
            e.message = format!(
                "{n} object(s) failed and {} skipped; the first failure: {}: {}",
                self.skipped.len(),
                show(&name),
                e.message
            );
            return Err(e);
        }
        if !self.skipped.is_empty() || !self.delete_failed.is_empty() {
            return Err(CliError::other(format!(
                "{} object(s) skipped (not imported), {} source deletion(s) failed: see above",
                self.skipped.len(),
                self.delete_failed.len()
            )));
        }
        Ok(())
    }
}

/// User metadata names as the vault keeps them (lower case, like the S3 gateway), with the
/// source's modification time added.
pub fn put_options(
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
    mtime_ns: Option<u128>,
    blake3: &blake3::Hash,
    s3_etag: Option<String>,
) -> PutOptions {
    let mut metadata: BTreeMap<String, String> = metadata
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if let Some(t) = mtime_ns {
        metadata.insert(META_MTIME.into(), t.to_string());
    }
    metadata.insert(META_BLAKE3.into(), blake3.to_hex().to_string());
    PutOptions {
        content_type,
        metadata,
        s3_etag,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_path_under_the_prefix() {
        assert_eq!(vault_key("", "a/b.jpg").as_deref(), Ok("a/b.jpg"));
        assert_eq!(vault_key("old", "a/b.jpg").as_deref(), Ok("old/a/b.jpg"));
        assert_eq!(vault_key("old/", "a").as_deref(), Ok("old/a"));
        assert!(vault_key("", "").is_err());
        assert!(vault_key("", &"x".repeat(1025)).is_err());
    }
}
