//! Sharing commands: `share`, `shares`, `revoke`, `rotate`, `reencrypt` (the owner's side) and
//! `inbox`, `accept`, `shared ls|get|put|rm` (the recipient's side; `put` and `rm` need a
//! read-write share).
//!
//! A recipient keeps accepted shares in `$COFFER_HOME/shares.book`, sealed to their identity.

use std::path::{Path, PathBuf};

use coffer::Identity;
use coffer::index::ListRequest;
use coffer::share::{
    Accepted, Scope, Share, ShareBook, ShareError, ShareId, SharedReader, SharedWriter,
    parse_duration_ms, read_inbox,
};
use coffer::vault::{ShareInfo, ShareOptions, now_ms};
use serde_json::{Value, json};

use crate::config::{self, StoreUrl, VaultArgs};
use crate::vault_cmd::{EXIT_NOT_FOUND, block_on, print_json, rfc3339, vault_error};
use crate::{CliError, CliResult, files};

/// Exit code: the share is not valid now (expired, not yet valid, or revoked).
pub const EXIT_SHARE_INVALID: u8 = 7;

/// Maps a sharing error to an exit code.
pub fn share_error(e: ShareError) -> CliError {
    let code = match &e {
        ShareError::Expired { .. } | ShareError::NotYetValid { .. } | ShareError::Revoked => {
            EXIT_SHARE_INVALID
        }
        ShareError::NotFound => EXIT_NOT_FOUND,
        ShareError::OutOfScope
        | ShareError::WriteOutsideScope { .. }
        | ShareError::NotWriter
        | ShareError::Invalid(_) => 2,
        ShareError::NotForMe
        | ShareError::Forged(_)
        | ShareError::ForgedWriterHead(_)
        | ShareError::Malformed(_)
        | ShareError::Replayed { .. }
        | ShareError::Corrupt { .. } => 3,
        ShareError::Store(coffer::store::StoreError::Io { .. }) => 4,
        _ => 1,
    };
    let message = match &e {
        ShareError::Expired { expired_ms } => format!(
            "the share expired at {}; ask the owner for a new one",
            rfc3339(*expired_ms)
        ),
        ShareError::NotYetValid { not_before_ms } => {
            format!("the share is not valid before {}", rfc3339(*not_before_ms))
        }
        _ => e.to_string(),
    };
    CliError::with_code(code, message)
}

fn scope_json(scope: &Scope) -> Value {
    match scope {
        Scope::Object(k) => json!({"kind": "object", "key": String::from_utf8_lossy(k)}),
        Scope::Prefix(p) => json!({"kind": "prefix", "prefix": String::from_utf8_lossy(p)}),
        Scope::Version { key, version } => {
            json!({"kind": "version", "key": String::from_utf8_lossy(key), "version": version})
        }
    }
}

fn info_json(i: &ShareInfo) -> Value {
    json!({
        "id": i.id.to_string(),
        "scope": scope_json(&i.scope),
        "to": i.to.to_string(),
        "not_before": rfc3339(i.not_before_ms),
        "expires": rfc3339(i.expires_ms),
        "issued": rfc3339(i.issued_ms),
        "revoked": i.revoked_ms.map(rfc3339),
        "grant": i.grant,
        "write": i.write,
        "status": i.status.to_string(),
    })
}

fn share_json(s: &Share) -> Value {
    json!({
        "id": s.id().to_string(),
        "grant": s.grant(),
        "from": s.issuer().to_string(),
        "vault": s.vault(),
        "scope": scope_json(&s.scope()),
        "not_before": rfc3339(s.not_before_ms()),
        "expires": rfc3339(s.expires_ms()),
        "rights": s.rights(),
        "presigned_url": s.presigned_url(),
    })
}

/// The scope a key argument names.
fn scope_of(key: &str, prefix: bool, version: Option<String>) -> Scope {
    match version {
        Some(version) => Scope::Version {
            key: key.as_bytes().to_vec(),
            version,
        },
        None if prefix || key.is_empty() || key.ends_with('/') => {
            Scope::Prefix(key.as_bytes().to_vec())
        }
        None => Scope::Object(key.as_bytes().to_vec()),
    }
}

/// Arguments of `coffer share`.
#[derive(clap::Args, Debug)]
pub struct ShareArgs {
    /// What to share: a key, or with --prefix (or a trailing `/`) every key starting with it.
    key: String,
    /// The recipient (`coffer1…`, from `coffer recipient`).
    #[arg(long, value_name = "RECIPIENT")]
    to: String,
    /// How long the share lasts: 30s, 15m, 1h, 7d, 2w.
    #[arg(long, value_name = "DURATION")]
    expires: String,
    /// Valid only after this delay (same units as --expires).
    #[arg(long, value_name = "DURATION")]
    not_before: Option<String>,
    /// Share every key starting with KEY.
    #[arg(long, conflicts_with = "version")]
    prefix: bool,
    /// Share this version of KEY only (a version id from `coffer versions`).
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// With --version on S3: include a presigned URL the server stops honouring at the expiry.
    #[arg(long, requires = "version")]
    presign: bool,
    /// Also let the recipient write under KEY (a read-write share; not with --version).
    #[arg(long, conflicts_with = "version")]
    write: bool,
    /// Print the share as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer share`.
pub fn share(args: ShareArgs) -> CliResult {
    let to: coffer::Recipient = args
        .to
        .parse()
        .map_err(|e| CliError::usage(format!("--to: {e}")))?;
    let now = now_ms();
    let expires = parse_duration_ms(&args.expires).map_err(share_error)?;
    let not_before = args
        .not_before
        .as_deref()
        .map(parse_duration_ms)
        .transpose()
        .map_err(share_error)?
        .map(|d| now + d);
    let scope = scope_of(&args.key, args.prefix, args.version.clone());
    let resolved = args.vault.resolve()?;
    let info = block_on(async {
        let mut v = resolved.open().await?;
        let id = v
            .share(
                scope,
                &to,
                ShareOptions {
                    not_before_ms: not_before,
                    expires_ms: not_before.unwrap_or(now) + expires,
                    presign: args.presign,
                    write: args.write,
                },
            )
            .await
            .map_err(vault_error)?;
        v.shares()
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| CliError::other("the new share is missing from the registry"))
    })?;
    if args.json {
        return print_json(&info_json(&info));
    }
    println!(
        "shared {}{} with {} until {} (share {}); it is in their inbox",
        info.scope,
        if info.write { " (read-write)" } else { "" },
        info.to,
        rfc3339(info.expires_ms),
        info.id
    );
    Ok(())
}

/// Arguments of `coffer shares`.
#[derive(clap::Args, Debug)]
pub struct SharesArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer shares`: every share this vault issued.
pub fn shares(args: SharesArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let list = block_on(async { Ok(resolved.open().await?.shares()) })?;
    if args.json {
        return print_json(&json!(list.iter().map(info_json).collect::<Vec<_>>()));
    }
    for i in &list {
        println!(
            "{}  {:8}  {}  to {}  until {}",
            i.id,
            i.status.to_string(),
            crate::escape::text(&i.scope.to_string()),
            i.to,
            rfc3339(i.expires_ms)
        );
    }
    if list.is_empty() {
        println!("no shares");
    }
    Ok(())
}

/// Arguments of `coffer revoke`.
#[derive(clap::Args, Debug)]
pub struct RevokeArgs {
    /// The share id (or its first characters, at least 4).
    id: String,
    /// Print the rotation report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

fn report_json(r: &coffer::vault::RotationReport) -> Value {
    json!({
        "epoch": r.epoch,
        "objects": r.objects,
        "keys": r.keys,
        "bytes_written": r.bytes_written,
        "grants": r.grants,
    })
}

/// `coffer revoke`.
pub fn revoke(args: RevokeArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let (id, report) = block_on(async {
        let mut v = resolved.open().await?;
        let ids: Vec<ShareId> = v
            .shares()
            .iter()
            .map(|s| s.id)
            .filter(|id| id.to_string().starts_with(&args.id) && args.id.len() >= 4)
            .collect();
        let id = match ids.as_slice() {
            [one] => *one,
            [] => {
                return Err(CliError::usage(format!(
                    "no share {} in this vault (see `coffer shares`)",
                    args.id
                )));
            }
            _ => return Err(CliError::usage("several shares match; give more of the id")),
        };
        let report = v.revoke(&id).await.map_err(vault_error)?;
        Ok((id, report))
    })?;
    if args.json {
        return print_json(&report_json(&report));
    }
    println!(
        "revoked {id}; {} other recipient(s) got new keys ({} objects re-wrapped, {} bytes written)",
        report.grants, report.objects, report.bytes_written
    );
    Ok(())
}

/// Arguments of `coffer rotate`.
#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    /// The shared key, or with --prefix (or a trailing `/`) the shared prefix.
    key: String,
    /// KEY is a prefix.
    #[arg(long)]
    prefix: bool,
    /// Print the rotation report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer rotate`: new keys for a shared key or prefix, re-wrapped (no content re-uploaded).
pub fn rotate(args: RotateArgs) -> CliResult {
    let scope = scope_of(&args.key, args.prefix, None);
    let resolved = args.vault.resolve()?;
    let report = block_on(async {
        let mut v = resolved.open().await?;
        v.rotate(&scope).await.map_err(vault_error)
    })?;
    if args.json {
        return print_json(&report_json(&report));
    }
    println!(
        "rotated {scope} to epoch {}: {} objects re-wrapped ({} keys, {} bytes written), {} grant(s) delivered",
        report.epoch, report.objects, report.keys, report.bytes_written, report.grants
    );
    Ok(())
}

/// Arguments of `coffer reencrypt`.
#[derive(clap::Args, Debug)]
pub struct ReencryptArgs {
    /// Re-encrypt every key starting with this (empty: the whole vault).
    prefix: String,
    /// Resume an interrupted run: the start time it printed (ms since the Unix epoch).
    #[arg(long, value_name = "MS")]
    since: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer reencrypt`: new random keys for every object under a prefix (a new version each).
pub fn reencrypt(args: ReencryptArgs) -> CliResult {
    let since = args.since.unwrap_or_else(now_ms);
    if args.since.is_none() {
        eprintln!(
            "coffer: re-encrypting from {since}; if interrupted, resume with `coffer reencrypt {:?} --since {since}`",
            args.prefix
        );
    }
    let resolved = args.vault.resolve()?;
    let report = block_on(async {
        let mut v = resolved.open().await?;
        v.reencrypt(args.prefix.as_bytes(), since)
            .await
            .map_err(vault_error)
    })?;
    if args.json {
        return print_json(&json!({
            "since": since,
            "reencrypted": report.reencrypted,
            "skipped": report.skipped,
            "bytes": report.bytes,
        }));
    }
    println!(
        "re-encrypted {} object(s) ({} bytes); {} already done",
        report.reencrypted, report.bytes, report.skipped
    );
    Ok(())
}

/// The recipient's side needs a store and an identity, not a vault.
fn recipient_side(vault: &VaultArgs) -> CliResult<(String, Identity, PathBuf)> {
    let resolved = vault.resolve()?;
    let identity = resolved.load_identity()?;
    Ok((
        resolved.store,
        identity,
        config::home()?.join("shares.book"),
    ))
}

fn load_book(path: &Path, identity: &Identity) -> CliResult<ShareBook> {
    match std::fs::read(path) {
        Ok(bytes) => ShareBook::from_bytes(identity, &bytes).map_err(|e| {
            CliError::integrity(format!(
                "{}: {e} (the book belongs to another identity, or was damaged)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ShareBook::new()),
        Err(e) => Err(CliError::io(path, e)),
    }
}

fn save_book(path: &Path, identity: &Identity, book: &ShareBook) -> CliResult {
    let bytes = book.to_bytes(identity).map_err(share_error)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    }
    let tmp = path.with_extension("book.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| CliError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::io(path, e))
}

/// Arguments of `coffer inbox`.
#[derive(clap::Args, Debug)]
pub struct InboxArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// The state of an inbox entry against the book.
fn entry_status(share: &Result<Share, ShareError>, book: &ShareBook, now: u64) -> String {
    match share {
        Err(e) => format!("refused: {e}"),
        Ok(s) => match book.get(&s.id()) {
            Some(have) if have.grant() >= s.grant() => {
                if have.grant() == s.grant() {
                    "accepted".into()
                } else {
                    "superseded".into()
                }
            }
            _ if now >= s.expires_ms() => "expired".into(),
            Some(_) => "new grant".into(),
            None => "new".into(),
        },
    }
}

/// `coffer inbox`: the shares waiting for this identity in the store.
pub fn inbox(args: InboxArgs) -> CliResult {
    let (store, identity, book_path) = recipient_side(&args.vault)?;
    let book = load_book(&book_path, &identity)?;
    let entries = block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        read_inbox(&*s, &identity).await.map_err(share_error)
    })?;
    let now = now_ms();
    if args.json {
        return print_json(&json!(
            entries
                .iter()
                .map(|e| {
                    let mut v = match &e.share {
                        Ok(s) => share_json(s),
                        Err(_) => json!({}),
                    };
                    v["entry"] = json!(e.name);
                    v["status"] = json!(entry_status(&e.share, &book, now));
                    v
                })
                .collect::<Vec<_>>()
        ));
    }
    if entries.is_empty() {
        println!("inbox empty");
    }
    for e in &entries {
        let status = entry_status(&e.share, &book, now);
        match &e.share {
            Ok(s) => println!(
                "{}  grant {}  {:10}  {} of vault {} from {}  until {}",
                s.id(),
                s.grant(),
                status,
                crate::escape::text(&s.scope().to_string()),
                crate::escape::text(s.vault()),
                s.issuer(),
                rfc3339(s.expires_ms())
            ),
            Err(_) => println!("{}  {status}", crate::escape::text(&e.name)),
        }
    }
    Ok(())
}

/// Arguments of `coffer accept`.
#[derive(clap::Args, Debug)]
pub struct AcceptArgs {
    /// Share ids to accept (or their first characters).
    #[arg(required_unless_present = "all")]
    ids: Vec<String>,
    /// Accept every valid share in the inbox.
    #[arg(long)]
    all: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer accept`: verify shares from the inbox and keep them in the share book.
pub fn accept(args: AcceptArgs) -> CliResult {
    let (store, identity, book_path) = recipient_side(&args.vault)?;
    let mut book = load_book(&book_path, &identity)?;
    let entries = block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        read_inbox(&*s, &identity).await.map_err(share_error)
    })?;
    let now = now_ms();
    let mut results = Vec::new();
    let mut failed = None;
    for want in &args.ids {
        let found = entries.iter().any(|e| match &e.share {
            Ok(s) => s.id().to_string().starts_with(want.as_str()),
            Err(_) => e.name.starts_with(want.as_str()),
        });
        if !found {
            return Err(CliError::usage(format!("no share {want} in the inbox")));
        }
    }
    for e in entries {
        let wanted = args.all
            || args.ids.iter().any(|w| match &e.share {
                Ok(s) => s.id().to_string().starts_with(w.as_str()),
                Err(_) => e.name.starts_with(w.as_str()),
            });
        if !wanted {
            continue;
        }
        let outcome = e.share.and_then(|s| {
            let id = s.id();
            book.accept(s, now).map(|a| (id, a))
        });
        match outcome {
            Ok((id, a)) => results.push(
                json!({"entry": e.name, "id": id.to_string(), "result": match a {
                    Accepted::New => "accepted",
                    Accepted::Updated => "updated",
                }}),
            ),
            // With --all, old grants and expired shares are expected: reported, not fatal.
            Err(err) => {
                let skip = args.all
                    && matches!(
                        err,
                        ShareError::Replayed { .. } | ShareError::Expired { .. }
                    );
                results
                    .push(json!({"entry": e.name, "result": "refused", "reason": err.to_string()}));
                if !skip && failed.is_none() {
                    failed = Some(err);
                }
            }
        }
    }
    save_book(&book_path, &identity, &book)?;
    if args.json {
        print_json(&json!(results))?;
    } else {
        for r in &results {
            println!(
                "{}  {}{}",
                crate::escape::text(r["entry"].as_str().unwrap_or_default()),
                r["result"].as_str().unwrap_or_default(),
                r["reason"]
                    .as_str()
                    .map(|s| format!(": {}", crate::escape::text(s)))
                    .unwrap_or_default()
            );
        }
    }
    match failed {
        Some(e) => Err(share_error(e)),
        None => Ok(()),
    }
}

/// `coffer shared`: read what others shared with you.
#[derive(clap::Subcommand, Debug)]
pub enum SharedCommand {
    /// List accepted shares, or with an id, the keys in one.
    Ls(SharedLsArgs),
    /// Read one object of a share into a file or stdout (verified).
    Get(SharedGetArgs),
    /// Write a file (or stdin) under a key of a read-write share, and publish it.
    Put(SharedPutArgs),
    /// Delete keys of a read-write share, and publish it.
    Rm(SharedRmArgs),
}

/// Arguments of `coffer shared put`.
#[derive(clap::Args, Debug)]
pub struct SharedPutArgs {
    /// The share id (or its first characters).
    id: String,
    /// The key to write (inside the share's scope).
    key: String,
    /// The file to read (`-` or omitted: stdin).
    #[arg(default_value = "-")]
    input: PathBuf,
    /// The content type to record.
    #[arg(long)]
    content_type: Option<String>,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer shared rm`.
#[derive(clap::Args, Debug)]
pub struct SharedRmArgs {
    /// The share id (or its first characters).
    id: String,
    /// The keys to delete (inside the share's scope).
    #[arg(required = true)]
    keys: Vec<String>,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer shared ls`.
#[derive(clap::Args, Debug)]
pub struct SharedLsArgs {
    /// The share id (or its first characters); without it, list the accepted shares.
    id: Option<String>,
    /// Only keys starting with this (inside the share's scope).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer shared get`.
#[derive(clap::Args, Debug)]
pub struct SharedGetArgs {
    /// The share id (or its first characters).
    id: String,
    /// The key to read.
    key: String,
    /// Where to write it (`-` or omitted: stdout).
    #[arg(short = 'o', long = "output", default_value = "-")]
    output: PathBuf,
    #[command(flatten)]
    vault: VaultArgs,
}

/// `coffer shared …`.
pub fn shared(cmd: SharedCommand) -> CliResult {
    match cmd {
        SharedCommand::Ls(a) => shared_ls(a),
        SharedCommand::Get(a) => shared_get(a),
        SharedCommand::Put(a) => shared_put(a),
        SharedCommand::Rm(a) => shared_rm(a),
    }
}

fn shared_put(args: SharedPutArgs) -> CliResult {
    let (store, identity, book_path) = recipient_side(&args.vault)?;
    let book = load_book(&book_path, &identity)?;
    let share = book.find(&args.id).map_err(share_error)?.clone();
    let data = if args.input.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| CliError::io(Path::new("stdin"), e))?;
        buf
    } else {
        std::fs::read(&args.input).map_err(|e| CliError::io(&args.input, e))?
    };
    let seq = block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        let mut w = SharedWriter::open(s, identity, share)
            .await
            .map_err(share_error)?;
        w.put(args.key.as_bytes(), &data, args.content_type.clone())
            .await
            .map_err(share_error)?;
        w.commit().await.map_err(share_error)
    })?;
    println!(
        "wrote {} ({} bytes) to share {} (head {seq})",
        crate::escape::text(&args.key),
        data.len(),
        args.id
    );
    Ok(())
}

fn shared_rm(args: SharedRmArgs) -> CliResult {
    let (store, identity, book_path) = recipient_side(&args.vault)?;
    let book = load_book(&book_path, &identity)?;
    let share = book.find(&args.id).map_err(share_error)?.clone();
    block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        let mut w = SharedWriter::open(s, identity, share)
            .await
            .map_err(share_error)?;
        for key in &args.keys {
            w.delete(key.as_bytes()).await.map_err(share_error)?;
        }
        w.commit().await.map_err(share_error)
    })?;
    for key in &args.keys {
        println!("deleted {}", crate::escape::text(key));
    }
    Ok(())
}

fn shared_ls(args: SharedLsArgs) -> CliResult {
    let (store, identity, book_path) = recipient_side(&args.vault)?;
    let book = load_book(&book_path, &identity)?;
    let Some(id) = &args.id else {
        if args.json {
            return print_json(&json!(book.iter().map(share_json).collect::<Vec<_>>()));
        }
        let now = now_ms();
        for s in book.iter() {
            let state = match s.check_time(now) {
                Ok(()) => "valid".to_string(),
                Err(ShareError::Expired { .. }) => "expired".into(),
                Err(_) => "not yet valid".into(),
            };
            println!(
                "{}  {:13}  {} of vault {} from {} until {}",
                s.id(),
                state,
                crate::escape::text(&s.scope().to_string()),
                crate::escape::text(s.vault()),
                s.issuer(),
                rfc3339(s.expires_ms())
            );
        }
        if book.is_empty() {
            println!("no accepted shares (see `coffer inbox`, `coffer accept`)");
        }
        return Ok(());
    };
    let share = book.find(id).map_err(share_error)?.clone();
    let page = block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        let reader = SharedReader::open(s, share).await.map_err(share_error)?;
        let mut all = Vec::new();
        let mut req = ListRequest {
            prefix: args.prefix.as_bytes().to_vec(),
            ..Default::default()
        };
        loop {
            let page = reader.list(&req).await.map_err(share_error)?;
            all.extend(page.contents);
            match page.next_continuation_token {
                Some(t) if page.is_truncated => req.continuation_token = Some(t),
                _ => break,
            }
        }
        Ok(all)
    })?;
    if args.json {
        return print_json(&json!(
            page.iter()
                .map(|o| json!({
                    "key": String::from_utf8_lossy(&o.key),
                    "size": o.size,
                    "etag": o.etag,
                    "last_modified": rfc3339(o.last_modified_ms),
                }))
                .collect::<Vec<_>>()
        ));
    }
    for o in &page {
        println!(
            "{}  {:>12}  {}",
            rfc3339(o.last_modified_ms),
            o.size,
            crate::escape::bytes(&o.key)
        );
    }
    Ok(())
}

fn shared_get(args: SharedGetArgs) -> CliResult {
    let (store, identity, book_path) = recipient_side(&args.vault)?;
    let book = load_book(&book_path, &identity)?;
    let share = book.find(&args.id).map_err(share_error)?.clone();
    let bytes = block_on(async {
        let s = StoreUrl::parse(&store)?.connect().await?;
        let reader = SharedReader::open(s, share).await.map_err(share_error)?;
        reader.get(args.key.as_bytes()).await.map_err(share_error)
    })?;
    let mut out = files::Output::create(&args.output)?;
    out.writer()
        .write_all(&bytes)
        .map_err(|e| CliError::io(&args.output, e))?;
    out.commit()
}
