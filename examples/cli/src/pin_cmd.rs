//! `coffer pin add|ls|rm|status`: keep a vault's blocks at a remote pinning service (the IPFS
//! Pinning Service API) as well as on your own Kubo node (`ipfs://` stores).
//!
//! The service is `--endpoint URL`, or `--service NAME` from `$COFFER_HOME/pin-services.json`:
//!
//! ```json
//! { "my-service": { "endpoint": "https://pinning.example/psa", "token_file": "/home/me/.pin-token" } }
//! ```
//!
//! The token comes from `--token-file FILE`, else `$COFFER_PIN_TOKEN`, else the service's
//! `token_file`; never from an argument (other users of the machine can read argv).
//! Pins are named `coffer-<16 hex digits>` (a hash of the vault name and your recipient, so the
//! service does not learn the vault's name) unless `--name` says otherwise.

use std::path::{Path, PathBuf};
use std::time::Duration;

use coffer::block::Cid;
use coffer::store::ipfs::pinsvc::{PinFilter, PinProgress, PinState, RemotePin};
use coffer::store::ipfs::{
    IpfsConfig, IpfsStore, PinServiceConfig, PinServiceError, PinningService, ServiceToken,
};
use serde_json::{Value, json};

use crate::config::{Resolved, StoreUrl, VaultArgs, home};
use crate::vault_cmd::{block_on, print_json, vault_error};
use crate::{CliError, CliResult};

/// `coffer pin …`.
#[derive(clap::Subcommand, Debug)]
pub enum PinCommand {
    /// Pin every block the vault references (index, every kept version, shares) to the service
    /// and wait until it reports each one pinned; run again to resume.
    Add(PinAddArgs),
    /// List this vault's pins at the service (every pin with --all).
    Ls(PinLsArgs),
    /// Remove pins from the service: the request IDs given, else every pin of this vault.
    Rm(PinRmArgs),
    /// Compare what the vault references with what the service holds; exits 1 unless every
    /// block is pinned.
    Status(PinStatusArgs),
}

/// Which service, which token, which pin name.
#[derive(clap::Args, Debug)]
pub struct ServiceArgs {
    /// A service named in $COFFER_HOME/pin-services.json ({"NAME": {"endpoint": URL,
    /// "token_file": FILE}}).
    #[arg(long, value_name = "NAME", conflicts_with = "endpoint")]
    service: Option<String>,
    /// The service's API endpoint, e.g. https://pinning.example/psa (instead of --service).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// A file holding the access token (default: $COFFER_PIN_TOKEN, else the service's
    /// token_file). Never pass a token as an argument.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The pins' name at the service (default: coffer- and a hash of the vault name and your
    /// recipient).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer pin add`.
#[derive(clap::Args, Debug)]
pub struct PinAddArgs {
    /// Give up waiting for `pinned` after this many seconds (nothing is reported durable before).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
    /// Where the service should fetch from (multiaddrs, repeatable; default: the Kubo node's
    /// swarm addresses).
    #[arg(long = "origin", value_name = "MULTIADDR")]
    origins: Vec<String>,
    /// Also remove this vault's pins of blocks it no longer references (after a prune).
    #[arg(long)]
    prune: bool,
    #[command(flatten)]
    service: ServiceArgs,
}

/// Arguments of `coffer pin ls`.
#[derive(clap::Args, Debug)]
pub struct PinLsArgs {
    /// Every pin at the service, not only this vault's.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    service: ServiceArgs,
}

/// Arguments of `coffer pin rm`.
#[derive(clap::Args, Debug)]
pub struct PinRmArgs {
    /// Request IDs to remove (default: every pin of this vault).
    #[arg(value_name = "REQUESTID")]
    ids: Vec<String>,
    #[command(flatten)]
    service: ServiceArgs,
}

/// Arguments of `coffer pin status`.
#[derive(clap::Args, Debug)]
pub struct PinStatusArgs {
    #[command(flatten)]
    service: ServiceArgs,
}

/// Runs `coffer pin …`.
pub fn pin(cmd: PinCommand) -> CliResult {
    match cmd {
        PinCommand::Add(a) => add(a),
        PinCommand::Ls(a) => ls(a),
        PinCommand::Rm(a) => rm(a),
        PinCommand::Status(a) => status(a),
    }
}

fn svc_error(e: PinServiceError) -> CliError {
    match e {
        PinServiceError::Config(_) => CliError::usage(e.to_string()),
        other => CliError::other(other.to_string()),
    }
}

/// The service's endpoint and token from the flags, the environment and the services file.
fn connect_service(args: &ServiceArgs, pin_timeout: Duration) -> CliResult<PinningService> {
    let mut endpoint = args.endpoint.clone();
    let mut token_file = args.token_file.clone();
    if let Some(name) = &args.service {
        let path = home()?.join("pin-services.json");
        let (e, t) = service_from_file(&path, name)?;
        endpoint = Some(e);
        if token_file.is_none() && std::env::var_os("COFFER_PIN_TOKEN").is_none() {
            token_file = t;
        }
    }
    let endpoint = endpoint.ok_or_else(|| {
        CliError::usage("say which pinning service: --service NAME or --endpoint URL")
    })?;
    let token = match (token_file, std::env::var("COFFER_PIN_TOKEN")) {
        (Some(f), _) => ServiceToken::from_file(&f).map_err(svc_error)?,
        (None, Ok(t)) => ServiceToken::new(t).map_err(svc_error)?,
        (None, Err(_)) => {
            return Err(CliError::usage(
                "no token for the pinning service: set COFFER_PIN_TOKEN, pass --token-file FILE, \
                 or give the service a token_file in pin-services.json",
            ));
        }
    };
    let mut config = PinServiceConfig::new(endpoint, token);
    config.pin_timeout = pin_timeout;
    PinningService::new(config).map_err(svc_error)
}

/// `(endpoint, token_file)` of service `name` in the services file.
fn service_from_file(path: &Path, name: &str) -> CliResult<(String, Option<PathBuf>)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!(
            "--service {name}: cannot read {} ({e}); name services there as {{\"{name}\": \
             {{\"endpoint\": URL, \"token_file\": FILE}}}}",
            path.display()
        ))
    })?;
    let all: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::usage(format!("{} is not JSON: {e}", path.display())))?;
    let entry = all
        .get(name)
        .ok_or_else(|| CliError::usage(format!("no service {name:?} in {}", path.display())))?;
    let endpoint = entry["endpoint"].as_str().ok_or_else(|| {
        CliError::usage(format!(
            "service {name:?} in {} has no \"endpoint\"",
            path.display()
        ))
    })?;
    if entry.get("token").is_some() {
        return Err(CliError::usage(format!(
            "service {name:?} in {}: keep the token in a file of its own (\"token_file\"), not \
             in the services file",
            path.display()
        )));
    }
    let token_file = entry["token_file"].as_str().map(PathBuf::from);
    Ok((endpoint.to_string(), token_file))
}

/// The pin name: `--name`, else `coffer-` and 16 hex digits of a hash of the vault and
/// recipient.
fn pin_name(args: &ServiceArgs, resolved: &Resolved) -> CliResult<String> {
    if let Some(n) = &args.name {
        return Ok(n.clone());
    }
    let identity = resolved.load_identity()?;
    let mut h = blake3::Hasher::new();
    h.update(b"coffer pin name\0");
    h.update(resolved.vault.as_bytes());
    h.update(&[0]);
    h.update(identity.recipient().to_string().as_bytes());
    Ok(format!("coffer-{}", &h.finalize().to_hex()[..16]))
}

/// The IPFS store under the vault (pins need a Kubo node the service can fetch from).
async fn ipfs_store(resolved: &Resolved) -> CliResult<IpfsStore> {
    match StoreUrl::parse(&resolved.store)? {
        StoreUrl::Ipfs { api, .. } => IpfsStore::connect(IpfsConfig::new(api))
            .await
            .map_err(|e| CliError::other(format!("cannot reach the IPFS node: {e}"))),
        _ => Err(CliError::usage(
            "remote pinning needs an ipfs:// store (the service fetches the blocks from that \
             Kubo node)",
        )),
    }
}

/// The vault's referenced blocks as the CIDs to pin (blob roots for large objects).
async fn pin_targets(resolved: &Resolved, store: &IpfsStore) -> CliResult<Vec<Cid>> {
    let mut vault = resolved.open().await?;
    let blocks = vault.referenced_blocks(None).await.map_err(vault_error)?;
    store
        .pin_roots(&blocks)
        .await
        .map_err(|e| CliError::other(format!("cannot map the blocks to IPFS pins: {e}")))
}

fn add(args: PinAddArgs) -> CliResult {
    let resolved = args.service.vault.resolve()?;
    let name = pin_name(&args.service, &resolved)?;
    let svc = connect_service(&args.service, Duration::from_secs(args.timeout))?;
    let json_out = args.service.json;
    let (report, removed) = block_on(async {
        let store = ipfs_store(&resolved).await?;
        let targets = pin_targets(&resolved, &store).await?;
        let origins = if args.origins.is_empty() {
            store
                .swarm_addresses()
                .await
                .map_err(|e| CliError::other(format!("cannot read the node's addresses: {e}")))?
        } else {
            args.origins.clone()
        };
        let mut last = String::new();
        let mut progress = |p: &PinProgress| {
            if json_out {
                return;
            }
            let line = match p {
                PinProgress::Listed { pins } => format!("the service has {pins} pins named {name}"),
                PinProgress::Adding { done, total } => format!("asked {done}/{total}"),
                PinProgress::Waiting { pinned, total } => format!("pinned {pinned}/{total}"),
            };
            if line != last {
                eprintln!("{line}");
                last = line;
            }
        };
        let report = svc
            .pin_all(&targets, &name, &origins, Some(&mut progress))
            .await
            .map_err(svc_error)?;
        let removed = if args.prune {
            svc.remove_unlisted(&name, &targets)
                .await
                .map_err(svc_error)?
        } else {
            0
        };
        Ok((report, removed))
    })?;
    if json_out {
        print_json(&json!({
            "service": svc.endpoint(),
            "name": name,
            "blocks": report.blocks,
            "already_pinned": report.already_pinned,
            "added": report.added,
            "pinned": report.pinned,
            "removed": removed,
        }))?;
    } else {
        println!(
            "pinned {} blocks at {} as {name} ({} already there, {} added{})",
            report.pinned,
            svc.endpoint(),
            report.already_pinned,
            report.added,
            if args.prune {
                format!(", {removed} no longer referenced removed")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn pin_json(p: &RemotePin) -> Value {
    json!({
        "requestid": p.request_id,
        "status": p.state.as_str(),
        "cid": p.cid.to_string(),
        "name": p.name,
        "created": p.created,
    })
}

fn ls(args: PinLsArgs) -> CliResult {
    let resolved = args.service.vault.resolve()?;
    let filter = PinFilter {
        name: if args.all {
            None
        } else {
            Some(pin_name(&args.service, &resolved)?)
        },
        ..Default::default()
    };
    let svc = connect_service(&args.service, Duration::from_secs(600))?;
    let pins = block_on(async { svc.list(&filter).await.map_err(svc_error) })?;
    if args.service.json {
        return print_json(&Value::Array(pins.iter().map(pin_json).collect()));
    }
    for p in &pins {
        println!(
            "{}  {:<7}  {}  {}  {}",
            crate::escape::text(&p.request_id),
            p.state.as_str(),
            p.cid,
            crate::escape::text(&p.created),
            crate::escape::text(p.name.as_deref().unwrap_or("")),
        );
    }
    Ok(())
}

fn rm(args: PinRmArgs) -> CliResult {
    let resolved = args.service.vault.resolve()?;
    let svc = connect_service(&args.service, Duration::from_secs(600))?;
    let ids = if args.ids.is_empty() {
        let name = pin_name(&args.service, &resolved)?;
        block_on(async {
            svc.list(&PinFilter {
                name: Some(name),
                ..Default::default()
            })
            .await
            .map_err(svc_error)
        })?
        .into_iter()
        .map(|p| p.request_id)
        .collect()
    } else {
        args.ids.clone()
    };
    let removed = block_on(async {
        let mut n = 0u64;
        for id in &ids {
            match svc.remove(id).await {
                Ok(()) => n += 1,
                Err(PinServiceError::NotFound(_)) if args.ids.is_empty() => {}
                Err(e) => return Err(svc_error(e)),
            }
        }
        Ok(n)
    })?;
    if args.service.json {
        print_json(&json!({ "removed": removed }))
    } else {
        println!("removed {removed} pins");
        Ok(())
    }
}

fn status(args: PinStatusArgs) -> CliResult {
    let resolved = args.service.vault.resolve()?;
    let name = pin_name(&args.service, &resolved)?;
    let svc = connect_service(&args.service, Duration::from_secs(600))?;
    let (targets, pins) = block_on(async {
        let store = ipfs_store(&resolved).await?;
        let targets = pin_targets(&resolved, &store).await?;
        let pins = svc
            .list(&PinFilter {
                name: Some(name.clone()),
                ..Default::default()
            })
            .await
            .map_err(svc_error)?;
        Ok((targets, pins))
    })?;
    let mut best: std::collections::HashMap<Cid, PinState> = Default::default();
    for p in &pins {
        let e = best.entry(p.cid).or_insert(p.state);
        if p.state == PinState::Pinned {
            *e = PinState::Pinned;
        }
    }
    let count = |s: Option<PinState>| targets.iter().filter(|c| best.get(c).copied() == s).count();
    let (pinned, queued, pinning, failed, missing) = (
        count(Some(PinState::Pinned)),
        count(Some(PinState::Queued)),
        count(Some(PinState::Pinning)),
        count(Some(PinState::Failed)),
        count(None),
    );
    let referenced: std::collections::HashSet<&Cid> = targets.iter().collect();
    let unreferenced = best.keys().filter(|c| !referenced.contains(c)).count();
    if args.service.json {
        print_json(&json!({
            "service": svc.endpoint(),
            "name": name,
            "blocks": targets.len(),
            "pinned": pinned,
            "queued": queued,
            "pinning": pinning,
            "failed": failed,
            "missing": missing,
            "unreferenced": unreferenced,
        }))?;
    } else {
        println!("service:  {} (pins named {name})", svc.endpoint());
        println!(
            "blocks:   {} referenced: {pinned} pinned, {queued} queued, {pinning} pinning, \
             {failed} failed, {missing} not asked",
            targets.len()
        );
        println!("stale:    {unreferenced} pins of blocks the vault no longer references");
    }
    if pinned == targets.len() {
        Ok(())
    } else {
        Err(CliError::other(
            "not every block is pinned at the service: run `coffer pin add`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_file_names_endpoints_and_token_files_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pin-services.json");
        std::fs::write(
            &path,
            r#"{"a": {"endpoint": "https://p.example/psa", "token_file": "/t"},
                "b": {"endpoint": "https://p.example/psa", "token": "inline-secret"},
                "c": {"token_file": "/t"}}"#,
        )
        .expect("write");
        let (endpoint, token) = service_from_file(&path, "a").expect("service a");
        assert_eq!(endpoint, "https://p.example/psa");
        assert_eq!(token, Some(PathBuf::from("/t")));
        for name in ["b", "c", "missing"] {
            let e = service_from_file(&path, name).expect_err("refused");
            assert_eq!(e.code, 2, "{name}");
            assert!(!e.message.contains("inline-secret"), "{}", e.message);
        }
    }
}
