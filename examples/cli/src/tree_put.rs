//! `coffer put -r DIR PREFIX`: every regular file under DIR, `--jobs` uploads at once, a commit
//! every `--commit-every` files. See [`crate::tree`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use coffer::vault::{PutOptions, Upload, VaultError};
use futures_util::StreamExt;
use tokio::sync::RwLock;

use crate::config::{CliVault, Resolved};
use crate::tree::{self, Bar, META_BLAKE3, META_MTIME, Summary, TreeArgs};
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult};

/// Files up to this size are read whole and sealed once; larger ones stream
/// ([`coffer::vault::Vault::upload_source`]: bounded memory, resumable).
const WHOLE_FILE_MAX: u64 = 8 << 20;

/// One local file.
#[derive(Clone, Debug)]
pub(crate) struct LocalFile {
    /// Path relative to DIR, `/`-separated.
    pub(crate) rel: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) mtime: Option<u128>,
}

/// What `put -r` was asked to do.
pub struct PutTree<'a> {
    /// The local directory.
    pub dir: &'a Path,
    /// The key prefix.
    pub prefix: &'a str,
    /// Metadata and tags for every object (`--meta`, `--tag`).
    pub opts: PutOptions,
    /// -r options.
    pub tree: &'a TreeArgs,
    /// The vault.
    pub vault: Resolved,
    /// Print the summary as JSON.
    pub json: bool,
}

/// Runs `put -r`.
pub fn run(job: PutTree<'_>) -> CliResult {
    let started = Instant::now();
    let meta = std::fs::metadata(job.dir).map_err(|e| CliError::io(job.dir, e))?;
    if !meta.is_dir() {
        return Err(CliError::usage(format!(
            "{} is not a directory (put -r DIR PREFIX)",
            job.dir.display()
        )));
    }
    let mut summary = Summary::default();
    let mut files = Vec::new();
    walk(job.dir, "", &mut files, &mut summary)?;
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    block_on(async {
        let vault = job.vault.open().await?;
        let todo = unchanged_filter(&vault, &job, files, &mut summary).await?;
        upload_all(vault, &job, todo, &mut summary).await
    })?;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.finish("put -r", job.json)
}

/// Collects the regular files under `dir` (not following symbolic links).
pub(crate) fn walk(
    dir: &Path,
    rel: &str,
    out: &mut Vec<LocalFile>,
    summary: &mut Summary,
) -> CliResult<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CliError::io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            summary.failed.push((
                path.display().to_string(),
                CliError::usage(format!(
                    "{}: the name is not UTF-8, so it cannot be a key",
                    path.display()
                )),
            ));
            continue;
        };
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.file_type().map_err(|e| CliError::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, &rel, out, summary)?;
        } else if kind.is_file() {
            let meta = entry.metadata().map_err(|e| CliError::io(&path, e))?;
            out.push(LocalFile {
                rel,
                path,
                size: meta.len(),
                mtime: tree::mtime_ns(&meta),
            });
        } else {
            summary.not_files += 1;
        }
    }
    Ok(())
}

/// Drops the files the vault already holds unchanged: same size (from a listing), and the same
/// modification time (or, with --checksum, content hash) in the object's metadata (one `head`,
/// `--jobs` at once, only for keys whose size matches).
async fn unchanged_filter(
    vault: &CliVault,
    job: &PutTree<'_>,
    files: Vec<LocalFile>,
    summary: &mut Summary,
) -> CliResult<Vec<LocalFile>> {
    let remote: HashMap<String, u64> = tree::list_all(vault, &tree::list_prefix(job.prefix))
        .await?
        .into_iter()
        .collect();
    let checksum = job.tree.checksum;
    let remote = &remote;
    let checks = futures_util::stream::iter(files.into_iter().map(|f| async move {
        let key = tree::join_key(job.prefix, &f.rel);
        if remote.get(&key) != Some(&f.size) {
            return (f, false);
        }
        let Ok(info) = vault.head(key.as_bytes()).await else {
            return (f, false);
        };
        let same = if checksum {
            let local = tokio::task::block_in_place(|| tree::file_blake3(&f.path)).ok();
            local.is_some() && info.metadata.get(META_BLAKE3) == local.as_ref()
        } else {
            f.mtime.is_some() && tree::object_mtime(&info) == f.mtime
        };
        (f, same)
    }))
    .buffered(job.tree.jobs as usize)
    .collect::<Vec<_>>()
    .await;
    let mut todo = Vec::new();
    for (f, same) in checks {
        if same {
            summary.unchanged += 1;
        } else {
            todo.push(f);
        }
    }
    Ok(todo)
}

/// Uploads `files`, `--jobs` at once, committing every `--commit-every`.
async fn upload_all(
    vault: CliVault,
    job: &PutTree<'_>,
    files: Vec<LocalFile>,
    summary: &mut Summary,
) -> CliResult<()> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let bar = Bar::new("put", files.len() as u64, total);
    let vault = Arc::new(RwLock::new(vault));
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = files.into_iter();
    let mut pending: Vec<(LocalFile, Upload)> = Vec::new();
    let mut done = 0u64;
    let jobs = job.tree.jobs as usize;
    let commit_every = job.tree.commit_every as usize;
    loop {
        while tasks.len() < jobs {
            let Some(f) = queue.next() else { break };
            let key = tree::join_key(job.prefix, &f.rel);
            let opts = job.opts.clone();
            let vault = vault.clone();
            let progress = bar.handle();
            tasks.spawn(async move {
                let v = vault.read().await;
                let r = upload_one(&v, &key, &f, opts, progress).await;
                (f, r)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (f, result) =
            joined.map_err(|e| CliError::other(format!("an upload task failed: {e}")))?;
        match result {
            Ok(up) => pending.push((f, up)),
            Err(e) => {
                done += 1;
                if job.tree.verbose {
                    bar.println(format!("coffer: {}: {}", f.rel, e.message));
                }
                summary.failed.push((f.rel, e));
            }
        }
        if pending.len() >= commit_every {
            commit(&vault, &mut pending, summary, &bar, job.tree.verbose).await?;
            done = summary.files + summary.failed.len() as u64;
        }
        bar.files_done(done + pending.len() as u64);
    }
    commit(&vault, &mut pending, summary, &bar, job.tree.verbose).await?;
    bar.finish();
    Ok(())
}

/// Seals and stores one file (not committed).
async fn upload_one(
    vault: &CliVault,
    key: &str,
    f: &LocalFile,
    mut opts: PutOptions,
    progress: indicatif::ProgressBar,
) -> CliResult<Upload> {
    let source_error = |e: VaultError| match e {
        VaultError::Source(msg) => CliError::io(&f.path, std::io::Error::other(msg)),
        VaultError::SourceChanged => CliError::with_code(
            4,
            format!("{}: the file changed while it was read", f.path.display()),
        ),
        other => vault_error(other),
    };
    // The modification time from just before reading: if the file changes after that, its
    // time on disk moves on, and the next run sends it again.
    let meta = std::fs::metadata(&f.path).map_err(|e| CliError::io(&f.path, e))?;
    if let Some(t) = tree::mtime_ns(&meta) {
        opts.metadata.insert(META_MTIME.into(), t.to_string());
    }
    if meta.len() <= WHOLE_FILE_MAX {
        let bytes = std::fs::read(&f.path).map_err(|e| CliError::io(&f.path, e))?;
        opts.metadata.insert(
            META_BLAKE3.into(),
            blake3::hash(&bytes).to_hex().to_string(),
        );
        let n = bytes.len() as u64;
        let up = vault
            .upload(key.as_bytes(), bytes, opts)
            .await
            .map_err(source_error)?;
        progress.inc(n);
        return Ok(up);
    }
    let hash = tokio::task::block_in_place(|| tree::file_blake3(&f.path))
        .map_err(|e| CliError::io(&f.path, e))?;
    opts.metadata.insert(META_BLAKE3.into(), hash);
    let mut last = 0u64;
    let mut report = |n: u64| {
        progress.inc(n.saturating_sub(last));
        last = n;
    };
    let mut path = f.path.clone();
    vault
        .upload_source(key.as_bytes(), &mut path, opts, Some(&mut report))
        .await
        .map_err(source_error)
}

/// Commits what is pending with one head write.
async fn commit(
    vault: &RwLock<CliVault>,
    pending: &mut Vec<(LocalFile, Upload)>,
    summary: &mut Summary,
    bar: &Bar,
    verbose: bool,
) -> CliResult<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(pending);
    let (files, uploads): (Vec<LocalFile>, Vec<Upload>) = batch.into_iter().unzip();
    let results = vault
        .write()
        .await
        .commit_uploads(uploads)
        .await
        .map_err(vault_error)?;
    summary.commits += 1;
    let mut committed = 0u64;
    for (f, r) in files.into_iter().zip(results) {
        match r {
            Ok(info) => {
                summary.files += 1;
                summary.bytes += info.size;
                committed += 1;
            }
            Err(e) => {
                let e = vault_error(e);
                if verbose {
                    bar.println(format!("coffer: {}: {}", f.rel, e.message));
                }
                summary.failed.push((f.rel, e));
            }
        }
    }
    if verbose {
        bar.println(format!(
            "committed {committed} files ({} so far)",
            summary.files
        ));
    }
    Ok(())
}
