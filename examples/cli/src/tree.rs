//! Many files at once: `coffer put -r DIR PREFIX` and `coffer get -r PREFIX DIR` (the transfers
//! themselves are in `tree_put` and `tree_get`; this module holds what both share).
//!
//! A local file `DIR/a/b.txt` and the key `PREFIX/a/b.txt` are the same item. A transfer first
//! finds what is already in place (see "unchanged" below) and then moves the rest with `--jobs`
//! transfers at once under one progress bar (bytes, files, rate). `put -r` commits every
//! `--commit-every` files with one head write ([`coffer::vault::Vault::commit_uploads`]), so an
//! interrupted transfer keeps what was committed and a rerun sends only the rest; `get -r`
//! writes each file under a temporary name and renames it into place once every byte verified.
//!
//! Unchanged: `put -r` keeps each file's modification time and the BLAKE3 hash of its content
//! in the object's (encrypted) user metadata (`coffer-mtime`, `coffer-blake3`); `get -r` gives
//! the file that modification time back. A file is unchanged when the sizes match and the
//! modification times match (`--checksum`: the content hashes match, which reads every local
//! file of a matching size); nothing of the remote content is read to decide
//! (`docs/decisions.md`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use coffer::vault::{ListRequest, ObjectInfo};

use crate::config::CliVault;
use crate::vault_cmd::vault_error;
use crate::{CliError, CliResult};

/// User metadata: the file's modification time, in nanoseconds since the Unix epoch.
pub const META_MTIME: &str = "coffer-mtime";
/// User metadata: the BLAKE3 hash of the file's content, in hex.
pub const META_BLAKE3: &str = "coffer-blake3";

/// Options of `put -r` and `get -r` (flattened into `coffer put` and `coffer get`).
#[derive(clap::Args, Debug, Clone)]
pub struct TreeArgs {
    /// Transfer a directory tree: `put -r DIR PREFIX` stores every file under DIR as
    /// PREFIX/relative/path; `get -r PREFIX DIR` writes every object under PREFIX/ into DIR.
    /// Files already in place and unchanged are skipped, so a rerun resumes.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// With -r: how many files move at once.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// With -r: tell unchanged files by their content's BLAKE3 hash instead of their
    /// modification time (reads every local file whose size matches).
    #[arg(long)]
    pub checksum: bool,
    /// With put -r: commit after this many files (what was committed survives an interruption).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub commit_every: u32,
    /// With -r: print each commit and each file that failed on stderr.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// The key an item under `prefix` has: `PREFIX/rel`, or `rel` when PREFIX is empty or already
/// ends with `/`.
pub fn join_key(prefix: &str, rel: &str) -> String {
    format!("{}{rel}", list_prefix(prefix))
}

/// What the items under `prefix` start with.
pub fn list_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

/// Where the object `rel` (its key without the listing prefix) goes under `dir`, or why it
/// cannot go anywhere safe: every `/`-separated part must be a plain name, so no key reaches
/// outside `dir` (keys come from the vault, which any writer of it may fill).
pub fn local_path(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let mut path = dir.to_path_buf();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\0') {
            return Err(format!(
                "the key part \"{}\" is not a plain file name: not written",
                crate::escape::text(part)
            ));
        }
        if cfg!(windows) && part.contains(['\\', ':']) {
            return Err(format!(
                "the key part \"{}\" is not a plain file name",
                crate::escape::text(part)
            ));
        }
        path.push(part);
    }
    Ok(path)
}

/// A file's modification time in nanoseconds since the Unix epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> Option<u128> {
    meta.modified()
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_nanos())
}

/// The modification time kept in an object's metadata.
pub fn object_mtime(info: &ObjectInfo) -> Option<u128> {
    info.metadata.get(META_MTIME)?.parse().ok()
}

/// `coffer-mtime` as a time to give a file.
pub fn system_time(ns: u128) -> Option<SystemTime> {
    let secs = u64::try_from(ns / 1_000_000_000).ok()?;
    let nanos = u32::try_from(ns % 1_000_000_000).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// The BLAKE3 hash of a local file, in hex.
pub fn file_blake3(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Every object under `prefix`: (key, size), in key order.
pub async fn list_all(vault: &CliVault, prefix: &str) -> CliResult<Vec<(String, u64)>> {
    let mut req = ListRequest {
        prefix: prefix.as_bytes().to_vec(),
        ..Default::default()
    };
    let mut out = Vec::new();
    loop {
        let page = vault.list(&req).await.map_err(vault_error)?;
        for o in page.contents {
            // Keys are UTF-8 (the vault checks it at put).
            out.push((String::from_utf8_lossy(&o.key).into_owned(), o.size));
        }
        match page.next_continuation_token {
            Some(t) => req.continuation_token = Some(t),
            None => return Ok(out),
        }
    }
}

/// The one progress bar of a transfer (on stderr; hidden when stderr is not a terminal).
pub struct Bar {
    bar: indicatif::ProgressBar,
    what: &'static str,
    files: u64,
    unit: std::sync::OnceLock<&'static str>,
}

impl Bar {
    /// A bar for `files` files of `bytes` bytes in all.
    pub fn new(what: &'static str, files: u64, bytes: u64) -> Self {
        let bar = indicatif::ProgressBar::new(bytes);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(format!("{what} 0/{files} files"));
        Self {
            bar,
            what,
            files,
            unit: std::sync::OnceLock::new(),
        }
    }

    /// Counts items as `unit` (e.g. "objects") instead of files.
    pub fn set_unit(&self, unit: &'static str) {
        let _ = self.unit.set(unit);
        self.files_done(0);
    }

    /// Says that `done` files are done.
    pub fn files_done(&self, done: u64) {
        let unit = self.unit.get().copied().unwrap_or("files");
        self.bar
            .set_message(format!("{} {done}/{} {unit}", self.what, self.files));
    }

    /// Whether the bar is hidden (stderr is not a terminal, or [`Bar::hide`]).
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Hides the bar.
    pub fn hide(&self) {
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }

    /// A line above the bar.
    pub fn println(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// A handle to add bytes from another task.
    pub fn handle(&self) -> indicatif::ProgressBar {
        self.bar.clone()
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// What a transfer did, printed at its end.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files transferred.
    pub files: u64,
    /// Their bytes (plaintext).
    pub bytes: u64,
    /// Files skipped because they were already in place and unchanged.
    pub unchanged: u64,
    /// Local entries skipped because they are not regular files (symbolic links, sockets…).
    pub not_files: u64,
    /// Files that failed, with why.
    pub failed: Vec<(String, CliError)>,
    /// Commits (put -r).
    pub commits: u64,
    /// Seconds the transfer took, from the start of the command.
    pub seconds: f64,
}

impl Summary {
    /// Prints the summary (text or JSON) and turns failures into the exit code of the first.
    pub fn finish(mut self, what: &str, json: bool) -> CliResult {
        let secs = self.seconds.max(1e-9);
        let mib_s = self.bytes as f64 / (1 << 20) as f64 / secs;
        let files_s = self.files as f64 / secs;
        if json {
            crate::vault_cmd::print_json(&serde_json::json!({
                "files": self.files,
                "bytes": self.bytes,
                "unchanged": self.unchanged,
                "not_files": self.not_files,
                "failed": self.failed.len(),
                "commits": self.commits,
                "seconds": self.seconds,
                "mib_per_s": mib_s,
                "files_per_s": files_s,
            }))?;
        } else {
            println!(
                "{what}: {} files ({}) in {:.1} s ({mib_s:.1} MiB/s, {files_s:.0} files/s); \
                 {} unchanged, {} failed{}",
                self.files,
                human_bytes(self.bytes),
                self.seconds,
                self.unchanged,
                self.failed.len(),
                if self.not_files > 0 {
                    format!(", {} not regular files skipped", self.not_files)
                } else {
                    String::new()
                }
            );
        }
        if self.failed.is_empty() {
            return Ok(());
        }
        let n = self.failed.len();
        let (_, mut first) = self.failed.swap_remove(0);
        first.message = format!("{n} file(s) failed; the first: {}", first.message);
        Err(first)
    }
}

/// `1.5 GiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_with_one_slash() {
        assert_eq!(join_key("", "a/b"), "a/b");
        assert_eq!(join_key("p", "a/b"), "p/a/b");
        assert_eq!(join_key("p/", "a"), "p/a");
    }

    #[test]
    fn keys_never_leave_the_directory() {
        let d = Path::new("/d");
        assert_eq!(local_path(d, "a/b.txt"), Ok(PathBuf::from("/d/a/b.txt")));
        assert_eq!(local_path(d, "ünï/кот"), Ok(PathBuf::from("/d/ünï/кот")));
        for bad in [
            "../x",
            "a/../../x",
            "a//b",
            "/abs",
            "a/",
            ".",
            "a/./b",
            "x\0y",
        ] {
            assert!(local_path(d, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modification_times_round_trip_through_metadata() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let ns = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after the epoch")
            .as_nanos();
        assert_eq!(system_time(ns), Some(t));
    }
}
