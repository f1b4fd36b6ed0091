//! The vault commands: `init`, `put`, `get`, `ls`, `rm`, `cp`, `mv`, `versions`, `sync`,
//! `status`, `stat` (retention and pruning are in `prune_cmd.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use coffer::index::ListRequest;
use coffer::vault::{ObjectInfo, PutOptions, Vault, VaultError};
use serde_json::{Value, json};

use crate::config::{self, Config, Resolved, StoreUrl, VaultArgs};
use crate::{CliError, CliResult, files};

/// Exit code: the key or version does not exist.
pub const EXIT_NOT_FOUND: u8 = 5;
/// Exit code: a conditional put's condition did not hold.
pub const EXIT_PRECONDITION: u8 = 6;

/// Maps a vault error to an exit code and a message that says what to do.
pub fn vault_error(e: VaultError) -> CliError {
    use coffer::store::StoreError;
    let e = match e {
        VaultError::Share(s) => return crate::share_cmd::share_error(s),
        other => other,
    };
    let code = match &e {
        VaultError::NotFound => EXIT_NOT_FOUND,
        VaultError::PreconditionFailed(_) => EXIT_PRECONDITION,
        VaultError::KeyTooLong { .. }
        | VaultError::InvalidKey(_)
        | VaultError::InvalidTags(_)
        | VaultError::InvalidVersion(_)
        | VaultError::NoSuchVault { .. }
        | VaultError::InvalidPolicy(_)
        | VaultError::AlreadyExists { .. } => 2,
        VaultError::Corrupt { .. }
        | VaultError::BadHeadSignature { .. }
        | VaultError::UnknownWriter { .. }
        | VaultError::BadHead { .. }
        | VaultError::WrongIdentity
        | VaultError::Trust(
            coffer::trust::TrustError::RolledBack { .. }
            | coffer::trust::TrustError::Forked { .. }
            | coffer::trust::TrustError::MissingHead { .. },
        )
        | VaultError::Seal(_)
        | VaultError::ConflictingVaultKeys { .. } => 3,
        VaultError::Handover(
            coffer::vault::HandoverError::Refused(_) | coffer::vault::HandoverError::V1Vault { .. },
        ) => 2,
        VaultError::Handover(_) => 3,
        VaultError::Source(_) | VaultError::Output(_) => 4,
        VaultError::Store(StoreError::Io { .. }) => 4,
        VaultError::Store(StoreError::TooLarge { .. } | StoreError::Corrupt { .. }) => 3,
        _ => 1,
    };
    let message = match &e {
        VaultError::NoSuchVault { .. } => {
            format!("{e} (run `coffer init`, or check --store and --vault)")
        }
        _ => e.to_string(),
    };
    CliError::with_code(code, message)
}

/// Runs `f` on a tokio runtime (S3 and IPFS need one; the directory store does not mind).
pub fn block_on<T>(f: impl std::future::Future<Output = CliResult<T>>) -> CliResult<T> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("cannot start the async runtime: {e}")))?
        .block_on(f)
}

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-11-22T14:05:09.123Z`), as S3 prints them.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// A key for JSON (which escapes what it must).
fn key_text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// A key for the terminal: control and bidi characters escaped.
fn key_shown(key: &[u8]) -> String {
    crate::escape::bytes(key)
}

fn info_json(i: &ObjectInfo) -> Value {
    json!({
        "key": key_text(&i.key),
        "version": i.version,
        "etag": i.etag(),
        "size": i.size,
        "sealed_size": i.sealed_len,
        "content_type": i.content_type,
        "metadata": i.metadata,
        "last_modified": rfc3339(i.created_ms),
        "data": i.data,
        "inline": i.inline,
    })
}

pub(crate) fn print_json(v: &Value) -> CliResult {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| CliError::other(e.to_string()))?;
    writeln!(out).map_err(|e| CliError::io(Path::new("<stdout>"), e))
}

/// A progress bar on stderr for transfers of at least 8 MiB (hidden when stderr is no terminal).
fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if len < 8 << 20 {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    pb
}

/// Arguments of `coffer init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// When the vault is new: wrap its key (and every share keyring) with X-Wing (ML-KEM-768 +
    /// X25519) instead of X25519 alone, against "harvest now, decrypt later". Costs about 1.1
    /// KiB per wrapped key. Ignored for an existing vault.
    #[arg(long)]
    post_quantum: bool,
    /// Print the configuration as JSON.
    #[arg(long)]
    json: bool,
}

/// `coffer init`: picks the store (default: a directory under the coffer home), creates an
/// identity if there is none, creates or opens the vault, and remembers all of it.
pub fn init(args: InitArgs) -> CliResult {
    let home = config::home()?;
    std::fs::create_dir_all(&home).map_err(|e| CliError::io(&home, e))?;
    let old = Config::load(&home)?;
    let store = args
        .vault
        .store
        .clone()
        .unwrap_or_else(|| StoreUrl::for_dir(&home.join("store")));
    StoreUrl::parse(&store)?;
    let identity_path = args
        .vault
        .identity
        .clone()
        .unwrap_or_else(|| home.join("identity"));
    let mut created_identity = false;
    if !identity_path.exists() {
        if args.vault.identity.is_some() {
            return Err(CliError::usage(format!(
                "no identity at {}; create one with `coffer keygen -o FILE` or leave out -i",
                identity_path.display()
            )));
        }
        let id = coffer::Identity::generate();
        files::write_secret_file(&identity_path, id.to_file_contents().as_bytes(), false)?;
        created_identity = true;
    }
    let resolved = Resolved {
        store: store.clone(),
        vault: args
            .vault
            .vault
            .clone()
            .or_else(|| old.as_ref().map(|c| c.vault.clone()))
            .unwrap_or_else(|| "default".into()),
        device: args
            .vault
            .device
            .clone()
            .or_else(|| old.as_ref().map(|c| c.device.clone()))
            .unwrap_or_else(config::default_device),
        identity: identity_path.clone(),
    };
    coffer::store::validate_name(&resolved.vault)
        .map_err(|e| CliError::usage(format!("vault name: {e}")))?;
    coffer::store::validate_name(&resolved.device)
        .map_err(|e| CliError::usage(format!("device name: {e}")))?;
    let identity = resolved.load_identity()?;
    let recipient = identity.recipient().to_string();
    block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        let trust = config::trust_for(&resolved.store, &identity)?;
        Vault::open_with_options(
            s,
            identity,
            &resolved.vault,
            &resolved.device,
            Some(false),
            coffer::vault::VaultOptions {
                trust: Some(trust),
                post_quantum: args.post_quantum,
            },
        )
        .await
        .map_err(vault_error)?;
        Ok(())
    })?;
    Config {
        store: resolved.store.clone(),
        vault: resolved.vault.clone(),
        device: resolved.device.clone(),
        identity: identity_path.clone(),
    }
    .save(&home)?;
    if args.json {
        return print_json(&json!({
            "store": resolved.store,
            "vault": resolved.vault,
            "device": resolved.device,
            "identity": identity_path,
            "recipient": recipient,
            "created_identity": created_identity,
        }));
    }
    if created_identity {
        println!(
            "Created an identity at {} — back it up: without it the vault cannot be read.",
            identity_path.display()
        );
    }
    println!(
        "Vault {:?} on {} (device {:?}) is ready.",
        resolved.vault, resolved.store, resolved.device
    );
    println!("Configuration: {}", home.join("config.json").display());
    println!("Recipient: {recipient}");
    Ok(())
}

fn parse_meta(pairs: &[String]) -> CliResult<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| CliError::usage(format!("--meta {p:?}: expected KEY=VALUE")))
        })
        .collect()
}

/// Arguments of `coffer put`.
#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// The local file to store (`-` for stdin).
    local: PathBuf,
    /// The object key (UTF-8, at most 1024 bytes).
    key: String,
    /// Content type to record (encrypted, like everything else).
    #[arg(long)]
    content_type: Option<String>,
    /// User metadata KEY=VALUE (repeatable; encrypted).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// A tag KEY=VALUE (repeatable, at most 10; encrypted; change later with `coffer tag`).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tag: Vec<String>,
    /// Fail (exit 6) if the key already holds an object.
    #[arg(long, conflicts_with = "if_match")]
    if_absent: bool,
    /// Fail (exit 6) unless the key's current version is VERSION.
    #[arg(long, value_name = "VERSION")]
    if_match: Option<String>,
    /// Print the new version as JSON (with -r: the transfer's summary).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tree: crate::tree::TreeArgs,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer put`.
pub fn put(args: PutArgs) -> CliResult {
    let opts = PutOptions {
        content_type: args.content_type.clone(),
        metadata: parse_meta(&args.meta)?,
        if_absent: args.if_absent,
        if_match: args.if_match.clone(),
        tags: parse_meta(&args.tag)?,
        s3_etag: None,
    };
    if args.tree.recursive {
        if opts.if_match.is_some() || opts.content_type.is_some() {
            return Err(CliError::usage(
                "put -r takes neither --if-match nor --content-type (they name one object)",
            ));
        }
        return crate::tree_put::run(crate::tree_put::PutTree {
            dir: &args.local,
            prefix: &args.key,
            opts,
            tree: &args.tree,
            vault: args.vault.resolve()?,
            json: args.json,
        });
    }
    // A stream is read more than once by a put (see `coffer::vault::PutSource`): spool stdin.
    let mut spool = None;
    let mut path = args.local.clone();
    if path == Path::new("-") {
        let mut tmp = tempfile::NamedTempFile::new()
            .map_err(|e| CliError::other(format!("cannot create a spool file: {e}")))?;
        std::io::copy(&mut std::io::stdin().lock(), tmp.as_file_mut())
            .map_err(|e| CliError::io(Path::new("<stdin>"), e))?;
        path = tmp.path().to_path_buf();
        spool = Some(tmp);
    }
    let len = std::fs::metadata(&path)
        .map_err(|e| CliError::io(&args.local, e))?
        .len();
    let resolved = args.vault.resolve()?;
    let info = block_on(async {
        let mut v = resolved.open().await?;
        let pb = progress_bar(len, "put");
        let mut progress = |n: u64| pb.set_position(n);
        let info = v
            .put_source(args.key.as_bytes(), &mut path, opts, Some(&mut progress))
            .await
            .map_err(|e| match e {
                VaultError::Source(msg) => CliError::io(&args.local, std::io::Error::other(msg)),
                other => vault_error(other),
            })?;
        pb.finish_and_clear();
        Ok(info)
    })?;
    drop(spool);
    if args.json {
        return print_json(&info_json(&info));
    }
    println!("{} {} bytes, version {}", args.key, info.size, info.version);
    Ok(())
}

/// Parses `a..b` into a byte range.
pub fn parse_range(s: &str) -> CliResult<std::ops::Range<u64>> {
    let bad = || {
        CliError::usage(format!(
            "--range {s:?}: expected START..END (bytes, END exclusive)"
        ))
    };
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok(a..b)
}

/// Arguments of `coffer get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The object key.
    key: String,
    /// Where to write it (default `-`, stdout). A file appears only once every byte verified.
    local: Option<PathBuf>,
    /// Read this version (from `coffer versions`) instead of the current one.
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// Only bytes START..END of the object (fetches only what they need).
    #[arg(long, value_name = "START..END", conflicts_with = "version")]
    range: Option<String>,
    /// With -r: print the transfer's summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tree: crate::tree::TreeArgs,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer get`.
pub fn get(args: GetArgs) -> CliResult {
    if args.tree.recursive {
        let Some(dir) = args.local.as_deref().filter(|d| *d != Path::new("-")) else {
            return Err(CliError::usage("get -r PREFIX DIR: say which directory"));
        };
        if args.version.is_some() || args.range.is_some() {
            return Err(CliError::usage(
                "get -r takes neither --version nor --range (they name one object)",
            ));
        }
        return crate::tree_get::run(crate::tree_get::GetTree {
            prefix: &args.key,
            dir,
            tree: &args.tree,
            vault: args.vault.resolve()?,
            json: args.json,
        });
    }
    let local = args.local.clone().unwrap_or_else(|| PathBuf::from("-"));
    let range = args.range.as_deref().map(parse_range).transpose()?;
    let resolved = args.vault.resolve()?;
    block_on(async {
        let v = resolved.open().await?;
        let key = args.key.as_bytes();
        let mut out = files::Output::create(&local)?;
        if let Some(r) = range {
            let bytes = v.get_range(key, r).await.map_err(|e| match e {
                VaultError::Seal(coffer::seal::SealError::RangeOutOfBounds { .. }) => {
                    CliError::usage(e.to_string())
                }
                other => vault_error(other),
            })?;
            out.writer()
                .write_all(&bytes)
                .map_err(|e| CliError::io(&local, e))?;
        } else {
            let size = match &args.version {
                Some(_) => 0,
                None => v.head(key).await.map_err(vault_error)?.size,
            };
            let pb = progress_bar(size, "get");
            let mut progress = |n: u64| pb.set_position(n);
            let writer = futures_util::io::AllowStdIo::new(out.writer());
            match &args.version {
                Some(version) => v
                    .get_version_to(key, version, writer, Some(&mut progress))
                    .await
                    .map_err(vault_error)?,
                None => v
                    .get_to(key, writer, Some(&mut progress))
                    .await
                    .map_err(vault_error)?,
            };
            pb.finish_and_clear();
        }
        out.commit()
    })
}

/// Arguments of `coffer ls`.
#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only keys that start with PREFIX.
    prefix: Option<String>,
    /// Group keys that contain D after the prefix into common prefixes (like S3's delimiter).
    #[arg(long, value_name = "D")]
    delimiter: Option<String>,
    /// List every key under the prefix (no delimiter; the default).
    #[arg(long, conflicts_with = "delimiter")]
    recursive: bool,
    /// Start after this key.
    #[arg(long, value_name = "KEY")]
    start_after: Option<String>,
    /// At most N keys and prefixes (1..=1000). Without it, the text output lists everything and
    /// --json prints one page of up to 1000.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_keys: Option<u32>,
    /// Continue a truncated listing (the previous page's next_continuation_token).
    #[arg(long, value_name = "TOKEN")]
    continuation_token: Option<String>,
    /// Print one ListObjectsV2-shaped page as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer ls`.
pub fn ls(args: LsArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let mut req = ListRequest {
        prefix: args.prefix.clone().unwrap_or_default().into_bytes(),
        delimiter: if args.recursive {
            None
        } else {
            args.delimiter.clone().map(String::into_bytes)
        },
        start_after: args.start_after.clone().map(String::into_bytes),
        continuation_token: args.continuation_token.clone(),
        max_keys: args.max_keys,
    };
    block_on(async {
        let v = resolved.open().await?;
        let list_err = |e: VaultError| match e {
            VaultError::Index(ref inner) => CliError::usage(format!(
                "{inner}; pass the next_continuation_token of the previous page unchanged"
            )),
            other => vault_error(other),
        };
        if args.json {
            let page = v.list(&req).await.map_err(list_err)?;
            return print_json(&json!({
                "contents": page.contents.iter().map(|o| json!({
                    "key": key_text(&o.key),
                    "size": o.size,
                    "etag": o.etag,
                    "last_modified": rfc3339(o.last_modified_ms),
                })).collect::<Vec<_>>(),
                "common_prefixes": page.common_prefixes.iter().map(|p| json!({
                    "prefix": key_text(p),
                })).collect::<Vec<_>>(),
                "is_truncated": page.is_truncated,
                "next_continuation_token": page.next_continuation_token,
                "key_count": page.key_count,
            }));
        }
        let mut out = std::io::stdout().lock();
        loop {
            let page = v.list(&req).await.map_err(list_err)?;
            for p in &page.common_prefixes {
                writeln!(out, "{:>19} {:>12} {}", "", "PRE", key_shown(p))
                    .map_err(|e| CliError::io(Path::new("<stdout>"), e))?;
            }
            for o in &page.contents {
                let when = rfc3339(o.last_modified_ms);
                writeln!(
                    out,
                    "{:>19} {:>12} {}",
                    &when[..19].replace('T', " "),
                    o.size,
                    key_shown(&o.key)
                )
                .map_err(|e| CliError::io(Path::new("<stdout>"), e))?;
            }
            match (&page.next_continuation_token, args.max_keys) {
                (Some(token), None) => req.continuation_token = Some(token.clone()),
                (Some(token), Some(_)) => {
                    eprintln!("(more: --continuation-token {token})");
                    return Ok(());
                }
                (None, _) => return Ok(()),
            }
        }
    })
}

/// Arguments of `coffer rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// The keys to delete (their versions stay readable with `coffer versions`).
    #[arg(required = true)]
    keys: Vec<String>,
    /// Take every version of the keys out of the history now (their blocks are deleted by the
    /// next `coffer prune`); with `coffer reencrypt`, how to erase something.
    #[arg(long)]
    purge: bool,
    /// Print a result per key as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer rm`: deletes in one commit; exits 5 if any key held no object.
pub fn rm(args: RmArgs) -> CliResult {
    if args.purge {
        return crate::prune_cmd::purge(&args.vault, &args.keys, args.json);
    }
    let resolved = args.vault.resolve()?;
    block_on(async {
        let mut v = resolved.open().await?;
        let keys: Vec<&[u8]> = args.keys.iter().map(|k| k.as_bytes()).collect();
        let results = v.delete_many(&keys).await.map_err(vault_error)?;
        let mut first_error = None;
        let mut json_results = Vec::new();
        for r in results {
            let key = key_shown(&r.key);
            match r.result {
                Ok(()) => {
                    json_results.push(json!({"key": key, "deleted": true}));
                    if !args.json {
                        println!("deleted {key}");
                    }
                }
                Err(e) => {
                    json_results
                        .push(json!({"key": key, "deleted": false, "error": e.to_string()}));
                    if !args.json {
                        eprintln!("coffer: {key}: {e}");
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        if args.json {
            print_json(&json!({ "results": json_results }))?;
        }
        match first_error {
            None => Ok(()),
            Some(e) => {
                let mut err = vault_error(e);
                err.message = "some keys were not deleted (see above)".into();
                Err(err)
            }
        }
    })
}

/// Arguments of `coffer cp` and `coffer mv`.
#[derive(clap::Args, Debug)]
pub struct CopyArgs {
    /// Source key.
    src: String,
    /// Destination key.
    dst: String,
    /// Print the new version as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer cp` (by reference: nothing is re-encrypted or uploaded); with `remove_source`,
/// `coffer mv` (copy, then delete the source: two commits).
pub fn copy(args: CopyArgs, remove_source: bool) -> CliResult {
    let resolved = args.vault.resolve()?;
    let info = block_on(async {
        let mut v = resolved.open().await?;
        let info = v
            .copy(args.src.as_bytes(), args.dst.as_bytes())
            .await
            .map_err(vault_error)?;
        if remove_source && args.src != args.dst {
            v.delete(args.src.as_bytes()).await.map_err(vault_error)?;
        }
        Ok(info)
    })?;
    if args.json {
        return print_json(&info_json(&info));
    }
    let verb = if remove_source { "moved" } else { "copied" };
    println!(
        "{verb} {} → {} (version {})",
        args.src, args.dst, info.version
    );
    Ok(())
}

/// Arguments of `coffer versions` and `coffer stat`.
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// The object key.
    key: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer versions`: every version of a key, current first.
pub fn versions(args: KeyArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let list = block_on(async {
        let v = resolved.open().await?;
        v.versions(args.key.as_bytes()).await.map_err(vault_error)
    })?;
    if args.json {
        return print_json(&json!({
            "key": args.key,
            "versions": list.iter().map(info_json).collect::<Vec<_>>(),
        }));
    }
    for (i, info) in list.iter().enumerate() {
        let mark = if i == 0 { "current" } else { "" };
        println!(
            "{}  {:>12}  {}  {mark}",
            &rfc3339(info.created_ms)[..19].replace('T', " "),
            info.size,
            info.version
        );
    }
    Ok(())
}

/// `coffer stat`: the current version's metadata.
pub fn stat(args: KeyArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let info = block_on(async {
        let v = resolved.open().await?;
        v.head(args.key.as_bytes()).await.map_err(vault_error)
    })?;
    if args.json {
        return print_json(&info_json(&info));
    }
    println!("key:           {}", key_shown(&info.key));
    println!("size:          {}", info.size);
    println!("version/etag:  {}", info.version);
    println!("last modified: {}", rfc3339(info.created_ms));
    println!(
        "content type:  {}",
        info.content_type.as_deref().unwrap_or("-")
    );
    for (k, val) in &info.metadata {
        println!(
            "meta:          {}={}",
            crate::escape::text(k),
            crate::escape::text(val)
        );
    }
    println!("sealed size:   {}", info.sealed_len);
    if info.inline {
        println!("sealed CID:    {} (stored inside the manifest)", info.data);
    } else {
        println!("sealed CID:    {}", info.data);
    }
    Ok(())
}

/// Arguments of `coffer tag`.
#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// The object key.
    key: String,
    /// Tags KEY=VALUE to set, replacing all current ones; none: print the current tags.
    tags: Vec<String>,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tags")]
    clear: bool,
    /// Print the tags as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer tag`: prints or replaces an object's tags (the version does not change).
pub fn tag(args: TagArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let new = parse_meta(&args.tags)?;
    let tags = block_on(async {
        let mut v = resolved.open().await?;
        let key = args.key.as_bytes();
        if args.clear || !new.is_empty() {
            v.set_tags(key, new).await.map_err(vault_error)?;
        }
        v.tags(key).await.map_err(vault_error)
    })?;
    if args.json {
        return print_json(&json!({ "key": args.key, "tags": tags }));
    }
    for (k, val) in &tags {
        println!("{}={}", crate::escape::text(k), crate::escape::text(val));
    }
    Ok(())
}

/// Arguments of `coffer sync` and `coffer status`.
#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer sync`: merges every other device's head into this one's.
pub fn sync(args: SyncArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let report = block_on(async {
        let mut v = resolved.open().await?;
        v.sync().await.map_err(vault_error)
    })?;
    let changed = report.root_before != report.root_after;
    if args.json {
        return print_json(&json!({
            "merged": report.merged,
            "changed": changed,
            "root_before": report.root_before.to_string(),
            "root_after": report.root_after.to_string(),
        }));
    }
    println!(
        "merged {} other device(s); {}",
        report.merged.len(),
        if changed {
            "this device's view changed"
        } else {
            "nothing new"
        }
    );
    Ok(())
}

/// One identity handover of a vault, as `coffer status` shows it.
struct Handed {
    from: String,
    to: String,
    time_ms: u64,
    cid: String,
}

/// `coffer status`: which vault, store and device; the owner and the retired owners (identity
/// rotation); every device and whether it is merged.
pub fn status(args: SyncArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let (writers, root, recipient, fingerprint, skipped, chain) = block_on(async {
        let mut v = resolved.open().await?;
        let w = v.writers().await.map_err(vault_error)?;
        let recipient = resolved.load_identity()?.recipient().to_string();
        let chain = v
            .handovers()
            .iter()
            .map(|h| Handed {
                from: h.body.from.clone(),
                to: h.body.to.clone(),
                time_ms: h.body.time,
                cid: h.cid.to_string(),
            })
            .collect::<Vec<_>>();
        Ok((
            w,
            v.root(),
            recipient,
            v.state_fingerprint(),
            v.skipped_heads().to_vec(),
            chain,
        ))
    })?;
    let pending = writers.iter().filter(|w| !w.merged).count();
    let pins = cluster_pins(&resolved.store)?;
    if args.json {
        return print_json(&json!({
            "store": resolved.store,
            "vault": resolved.vault,
            "device": resolved.device,
            "recipient": recipient,
            "root": root.to_string(),
            "writers": writers.iter().map(|w| json!({
                "writer": w.writer,
                "seq": w.seq,
                "last_write": rfc3339(w.time_ms),
                "this_device": w.is_self,
                "merged": w.merged,
            })).collect::<Vec<_>>(),
            "unmerged_writers": pending,
            "owner": chain.last().map_or(recipient.as_str(), |h| h.to.as_str()),
            "handovers": chain.iter().enumerate().map(|(i, h)| json!({
                "n": i + 1,
                "from": h.from,
                "to": h.to,
                "time": rfc3339(h.time_ms),
                "handover": h.cid,
            })).collect::<Vec<_>>(),
            "state_fingerprint": fingerprint,
            "skipped": skipped.iter().map(|s| json!({"writer": s.writer, "reason": s.reason})).collect::<Vec<_>>(),
            "cluster_pins": pins,
        }));
    }
    println!("store:     {}", resolved.store);
    println!("vault:     {}", resolved.vault);
    println!("device:    {}", resolved.device);
    println!("recipient: {recipient}");
    if let Some(last) = chain.last() {
        // The owner now, then each retired owner with the time it handed the vault over (the
        // rotating device's clock, as the handover records it).
        println!("owner:     {}", last.to);
        for h in chain.iter().rev() {
            println!(
                "  retired: {}  handed over {} (handover {})",
                h.from,
                rfc3339(h.time_ms),
                h.cid
            );
        }
    }
    println!("devices:");
    for w in &writers {
        let state = if w.is_self {
            "this device"
        } else if w.merged {
            "merged"
        } else {
            "has changes: run `coffer sync`"
        };
        println!(
            "  {}  {} writes, last {}  {state}",
            w.writer,
            w.seq,
            rfc3339(w.time_ms)
        );
    }
    println!("state:     {fingerprint}");
    println!("           (the same on two devices after both synced = they see the same history)");
    for s in &skipped {
        println!(
            "skipped:   {}  {}",
            crate::escape::text(&s.writer),
            crate::escape::text(&s.reason)
        );
    }
    if let Some(pins) = &pins {
        print_cluster_pins(pins);
    }
    Ok(())
}

/// The cluster's pins of this store as JSON (one `GET /pins` of the cluster: each pin's CID,
/// name, allocations and per-peer state) when the store is `ipfs-cluster://`; `None` otherwise.
#[cfg(feature = "stores")]
fn cluster_pins(store: &str) -> CliResult<Option<Value>> {
    let url = StoreUrl::parse(store)?;
    if !matches!(url, StoreUrl::Cluster { .. }) {
        return Ok(None);
    }
    let pins = block_on(async {
        let cluster = url.connect_cluster().await?;
        cluster
            .pin_statuses()
            .await
            .map_err(|e| CliError::other(format!("cannot read the cluster's pins: {e}")))
    })?;
    Ok(Some(Value::Array(
        pins.iter()
            .map(|p| {
                json!({
                    "cid": p.cid,
                    "name": p.name,
                    "allocations": p.allocations,
                    "pinned_on": p.pinned(),
                    "peers": p.peers.iter().map(|s| json!({
                        "peer": s.peer,
                        "peername": s.peername,
                        "status": s.status,
                        "error": s.error,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )))
}

#[cfg(not(feature = "stores"))]
fn cluster_pins(_: &str) -> CliResult<Option<Value>> {
    Ok(None)
}

/// Each pin's allocation and per-peer state (only a summary past 50 pins).
fn print_cluster_pins(pins: &Value) {
    let pins = pins.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut by_count: BTreeMap<u64, usize> = BTreeMap::new();
    for p in pins {
        *by_count
            .entry(p["pinned_on"].as_u64().unwrap_or(0))
            .or_default() += 1;
    }
    println!("cluster:   {} pins", pins.len());
    for (n, count) in &by_count {
        println!("           {count} pinned on {n} peer(s)");
    }
    if pins.len() > 50 {
        return;
    }
    for p in pins {
        let peers: Vec<String> = p["peers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|s| s["status"] != "remote")
            .map(|s| {
                format!(
                    "{}={}",
                    crate::escape::text(s["peername"].as_str().unwrap_or("?")),
                    crate::escape::text(s["status"].as_str().unwrap_or("?"))
                )
            })
            .collect();
        println!(
            "  {}  allocated to {}: {}",
            p["cid"].as_str().unwrap_or("?"),
            p["allocations"].as_array().map_or(0, Vec::len),
            peers.join(" ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_s3() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_356_309_123), "2026-11-22T14:05:09.123Z");
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("3..10").ok(), Some(3..10));
        assert_eq!(parse_range("0..0").ok(), Some(0..0));
        for bad in ["3", "a..b", "10..3", "..4", "-1..2"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }
}
