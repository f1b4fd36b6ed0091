//! `coffer get -r PREFIX DIR`: every object under PREFIX/ into DIR, `--jobs` downloads at once,
//! each file renamed into place only once every byte verified. See [`crate::tree`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

use crate::config::{CliVault, Resolved};
use crate::tree::{self, Bar, META_BLAKE3, Summary, TreeArgs};
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult};

/// One object to fetch.
#[derive(Clone, Debug)]
struct Item {
    key: String,
    size: u64,
    path: PathBuf,
}

/// What `get -r` was asked to do.
pub struct GetTree<'a> {
    /// The key prefix.
    pub prefix: &'a str,
    /// The local directory (created if missing).
    pub dir: &'a Path,
    /// -r options.
    pub tree: &'a TreeArgs,
    /// The vault.
    pub vault: Resolved,
    /// Print the summary as JSON.
    pub json: bool,
}

/// Runs `get -r`.
pub fn run(job: GetTree<'_>) -> CliResult {
    let started = Instant::now();
    let mut summary = Summary::default();
    std::fs::create_dir_all(job.dir).map_err(|e| CliError::io(job.dir, e))?;
    block_on(async {
        let vault = job.vault.open().await?;
        let prefix = tree::list_prefix(job.prefix);
        let mut items = Vec::new();
        for (key, size) in tree::list_all(&vault, &prefix).await? {
            if key.ends_with('/') {
                // A "folder" marker some S3 tools write: nothing to put on disk.
                continue;
            }
            match tree::local_path(job.dir, &key[prefix.len()..]) {
                Ok(path) => items.push(Item { key, size, path }),
                Err(why) => {
                    let shown = crate::escape::text(&key);
                    summary
                        .failed
                        .push((key, CliError::usage(format!("{shown}: {why}"))));
                }
            }
        }
        let todo = unchanged_filter(&vault, &job, items, &mut summary).await;
        download_all(vault, &job, todo, &mut summary).await;
        Ok(())
    })?;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.finish("get -r", job.json)
}

/// Drops the objects already on disk unchanged: a file of the same size whose modification time
/// (or, with --checksum, content hash) equals the one in the object's metadata.
async fn unchanged_filter(
    vault: &CliVault,
    job: &GetTree<'_>,
    items: Vec<Item>,
    summary: &mut Summary,
) -> Vec<Item> {
    let checksum = job.tree.checksum;
    let checks = futures_util::stream::iter(items.into_iter().map(|it| async move {
        let Ok(meta) = std::fs::metadata(&it.path) else {
            return (it, false);
        };
        if !meta.is_file() || meta.len() != it.size {
            return (it, false);
        }
        let Ok(info) = vault.head(it.key.as_bytes()).await else {
            return (it, false);
        };
        let same = if checksum {
            let local = tokio::task::block_in_place(|| tree::file_blake3(&it.path)).ok();
            local.is_some() && info.metadata.get(META_BLAKE3) == local.as_ref()
        } else {
            let remote = tree::object_mtime(&info);
            remote.is_some() && tree::mtime_ns(&meta) == remote
        };
        (it, same)
    }))
    .buffered(job.tree.jobs as usize)
    .collect::<Vec<_>>()
    .await;
    let mut todo = Vec::new();
    for (it, same) in checks {
        if same {
            summary.unchanged += 1;
        } else {
            todo.push(it);
        }
    }
    todo
}

/// Downloads `items`, `--jobs` at once.
async fn download_all(vault: CliVault, job: &GetTree<'_>, items: Vec<Item>, summary: &mut Summary) {
    let total: u64 = items.iter().map(|i| i.size).sum();
    let bar = Bar::new("get", items.len() as u64, total);
    let vault = Arc::new(vault);
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = items.into_iter();
    let mut done = 0u64;
    loop {
        while tasks.len() < job.tree.jobs as usize {
            let Some(it) = queue.next() else { break };
            let vault = vault.clone();
            let progress = bar.handle();
            tasks.spawn(async move {
                let r = download_one(&vault, &it, progress).await;
                (it, r)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        done += 1;
        bar.files_done(done);
        match joined {
            Ok((it, Ok(n))) => {
                summary.files += 1;
                summary.bytes += n;
                let _ = it;
            }
            Ok((it, Err(e))) => {
                if job.tree.verbose {
                    bar.println(format!(
                        "coffer: {}: {}",
                        crate::escape::text(&it.key),
                        e.message
                    ));
                }
                summary.failed.push((it.key, e));
            }
            Err(e) => summary.failed.push((
                String::new(),
                CliError::other(format!("a download task failed: {e}")),
            )),
        }
    }
    bar.finish();
}

/// Fetches one object into a temporary file beside its path, renames it into place once every
/// byte verified, and gives it the modification time kept in its metadata.
async fn download_one(
    vault: &CliVault,
    it: &Item,
    progress: indicatif::ProgressBar,
) -> CliResult<u64> {
    let parent = it.path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| CliError::io(parent, e))?;
    if it.path.is_dir() {
        return Err(CliError::with_code(
            4,
            format!("{}: a directory is in the way", it.path.display()),
        ));
    }
    let temp = tempfile::Builder::new()
        .prefix(".coffer-tmp-")
        .tempfile_in(parent)
        .map_err(|e| CliError::io(parent, e))?;
    let file = temp.reopen().map_err(|e| CliError::io(temp.path(), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut last = 0u64;
    let mut report = |n: u64| {
        progress.inc(n.saturating_sub(last));
        last = n;
    };
    let info = vault
        .get_to(
            it.key.as_bytes(),
            futures_util::io::AllowStdIo::new(&mut out),
            Some(&mut report),
        )
        .await
        .map_err(vault_error)?;
    progress.inc(info.size.saturating_sub(last));
    out.flush().map_err(|e| CliError::io(temp.path(), e))?;
    let file = out
        .into_inner()
        .map_err(|e| CliError::io(temp.path(), e.into_error()))?;
    if let Some(t) = tree::object_mtime(&info).and_then(tree::system_time) {
        file.set_modified(t)
            .map_err(|e| CliError::io(temp.path(), e))?;
    }
    drop(file);
    temp.persist(&it.path)
        .map_err(|e| CliError::io(&it.path, e.error))?;
    Ok(info.size)
}
