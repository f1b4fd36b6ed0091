//! Setup shared by the vault benches (`bench rotate`, `share`, `gc`, `cowrite`): the stores a
//! bench fills and measures on, filling a vault in commits of 1,000, and counting what a listing
//! returns. None of this is timed as a figure: each bench measures on the durable store after it.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use coffer::index::ListRequest;
use coffer::store::DirStore;
use coffer::vault::{ListPage, PutOptions, Vault};

use crate::config::{AnyStore, StoreUrl};
use crate::vault_cmd::vault_error;
use crate::{CliError, CliResult};

/// Objects per commit when a bench fills a vault.
const FILL_COMMIT: usize = 1_000;

/// The store a bench fills its vaults through, and the one it measures on: without `--store`, a
/// local directory under `tmp`, filled through [`DirStore::without_fsync`] (the two fsyncs of
/// every block are most of a fill's time) and measured on the ordinary, durable [`DirStore`]
/// over the same directory; with `--store`, that store for both.
pub(crate) async fn bench_stores(
    url: Option<&str>,
    tmp: &Path,
) -> CliResult<(Arc<dyn AnyStore>, Arc<dyn AnyStore>)> {
    match url {
        Some(url) => {
            let s = StoreUrl::parse(url)?.connect().await?;
            Ok((s.clone(), s))
        }
        None => {
            let dir =
                DirStore::open(tmp.join("store")).map_err(|e| CliError::other(e.to_string()))?;
            Ok((Arc::new(dir.clone().without_fsync()), Arc::new(dir)))
        }
    }
}

/// Puts `objects` (key, content) from the device `v` in commits of 1,000 (uploads, then one
/// commit); `progress` is called with the number put so far after each object.
pub(crate) async fn put_in_commits(
    v: &mut Vault<dyn AnyStore>,
    objects: impl IntoIterator<Item = (String, Vec<u8>)>,
    mut progress: impl FnMut(usize),
) -> CliResult {
    let mut batch = Vec::with_capacity(FILL_COMMIT);
    let mut put = 0;
    for (key, body) in objects {
        batch.push(
            v.upload(key.as_bytes(), body, PutOptions::default())
                .await
                .map_err(vault_error)?,
        );
        put += 1;
        if batch.len() == FILL_COMMIT {
            commit(v, &mut batch).await?;
        }
        progress(put);
    }
    commit(v, &mut batch).await
}

async fn commit(v: &mut Vault<dyn AnyStore>, batch: &mut Vec<coffer::vault::Upload>) -> CliResult {
    if batch.is_empty() {
        return Ok(());
    }
    for r in v
        .commit_uploads(std::mem::take(batch))
        .await
        .map_err(vault_error)?
    {
        r.map_err(vault_error)?;
    }
    Ok(())
}

/// `n` objects of `size` bytes named `{prefix}{i:0width$}`, each with its index in its first 8
/// bytes (distinct contents, the rest zeros).
pub(crate) fn numbered(
    prefix: &str,
    width: usize,
    n: usize,
    size: u64,
) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    (0..n).map(move |i| {
        let mut body = vec![0u8; size as usize];
        let tag = (i as u64).to_le_bytes();
        let k = body.len().min(8);
        body[..k].copy_from_slice(&tag[..k]);
        (format!("{prefix}{i:0width$}"), body)
    })
}

/// Counts the keys under `prefix` that `list` returns, page by page (1,000 keys a page).
pub(crate) async fn count_listed<F, Fut>(prefix: &[u8], mut list: F) -> CliResult<usize>
where
    F: FnMut(ListRequest) -> Fut,
    Fut: Future<Output = CliResult<ListPage>>,
{
    let mut n = 0;
    let mut req = ListRequest {
        prefix: prefix.to_vec(),
        max_keys: Some(1000),
        ..Default::default()
    };
    loop {
        let page = list(req.clone()).await?;
        n += page.contents.len();
        match (page.is_truncated, page.contents.last()) {
            (true, Some(last)) => req.start_after = Some(last.key.clone()),
            _ => return Ok(n),
        }
    }
}
