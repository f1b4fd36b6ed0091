//! `coffer serve s3`: the S3 gateway on this machine, in front of the configured store.

use std::net::SocketAddr;
use std::time::Duration;

use coffer::gateway::{Credentials, Gateway, GatewayConfig, PROFILE};

use crate::config::{self, StoreUrl, VaultArgs};
use crate::{CliError, CliResult, files};

/// What `coffer serve` serves.
#[derive(clap::Subcommand, Debug)]
pub enum ServeCommand {
    /// An S3-compatible gateway: every bucket is a vault of your identity in the store, so S3
    /// tools (aws, boto3, rclone, SDKs) store only sealed, verified objects.
    S3(S3Args),
}

/// Arguments of `coffer serve s3`.
#[derive(clap::Args, Debug)]
pub struct S3Args {
    #[command(flatten)]
    vault: VaultArgs,
    /// Address to listen on (plain HTTP; keep it on loopback).
    #[arg(long, default_value_t = coffer::gateway::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The region reported to clients (they may sign with any).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Largest object in one PUT (and largest part).
    #[arg(long, default_value = "5GiB", value_parser = files::parse_size)]
    max_object_size: u64,
    /// How often open buckets take in changes made by your other devices (0: only at start).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    sync_interval: u64,
    /// Print `export AWS_…` lines with the access key and secret for a client shell, then exit
    /// (e.g. `eval "$(coffer serve s3 --print-env)"`).
    #[arg(long)]
    print_env: bool,
    /// Most uploads committed by one head write (1 turns grouping off; for benchmarks).
    #[arg(long, default_value_t = 1000, hide = true)]
    max_commit_batch: usize,
    /// Seconds a request body may stall before `RequestTimeout`.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", hide = true)]
    body_idle_timeout: u64,
    /// Seconds a client may take to send request headers.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", hide = true)]
    header_timeout: u64,
}

fn endpoint(listen: &SocketAddr) -> String {
    let ip = listen.ip();
    let host = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("http://{host}:{}", listen.port())
}

/// `coffer serve s3`.
pub fn serve(cmd: ServeCommand) -> CliResult {
    let ServeCommand::S3(args) = cmd;
    let home = config::home()?;
    let state = home.join("gateway");
    let creds_path = state.join("credentials");
    let (creds, created) =
        Credentials::load_or_create(&creds_path).map_err(|e| CliError::other(e.to_string()))?;
    if args.print_env {
        println!("export AWS_ACCESS_KEY_ID={}", creds.access_key_id());
        println!("export AWS_SECRET_ACCESS_KEY={}", creds.secret_access_key());
        println!("export AWS_ENDPOINT_URL={}", endpoint(&args.listen));
        println!("export AWS_REGION={}", args.region);
        return Ok(());
    }
    let resolved = args.vault.resolve()?;
    let identity = resolved.load_identity()?;
    let device = match &args.vault.device {
        Some(d) => d.clone(),
        None => {
            let base: String = resolved.device.chars().take(120).collect();
            format!("{base}-s3gw")
        }
    };
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "coffer: warning: listening on {} (not loopback): plain HTTP that other machines can \
             reach; signatures protect access, not the data in transit",
            args.listen
        );
    }
    let mut config = GatewayConfig::new(state.clone());
    config.listen = args.listen;
    config.device = device.clone();
    config.region = args.region.clone();
    config.limits.max_object_size = args.max_object_size;
    config.limits.max_part_size = args.max_object_size;
    config.max_commit_batch = args.max_commit_batch;
    config.limits.body_idle_timeout = Duration::from_secs(args.body_idle_timeout.max(1));
    config.limits.header_timeout = Duration::from_secs(args.header_timeout.max(1));
    config.sync_interval =
        (args.sync_interval > 0).then(|| Duration::from_secs(args.sync_interval));
    // What the gateway saw of each bucket survives restarts, as for every other command.
    config.trust = Some(crate::config::trust_for(&resolved.store, &identity)?);
    let store_url = resolved.store.clone();
    let vault_name = resolved.vault.clone();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let store = StoreUrl::parse(&store_url)?.connect().await?;
        let gateway = Gateway::bind(store, identity, creds.clone(), config)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        // The vault `coffer init` configured is served as a bucket of the same name.
        let adopted = match gateway.adopt(&vault_name).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("coffer: warning: {e}");
                false
            }
        };
        let addr = gateway
            .local_addr()
            .map_err(|e| CliError::other(e.to_string()))?;
        print_banner(
            &addr,
            &store_url,
            &device,
            &creds,
            &creds_path,
            created,
            &args.region,
        );
        if adopted {
            println!("The vault {vault_name:?} is the bucket s3://{vault_name}.");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let stats = gateway.commit_stats();
        gateway
            .serve(shutdown_signal())
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        let (commits, uploads) = stats.snapshot();
        eprintln!("coffer: gateway stopped; {uploads} uploads committed in {commits} commits");
        Ok(())
    })
}

fn print_banner(
    addr: &SocketAddr,
    store: &str,
    device: &str,
    creds: &Credentials,
    creds_path: &std::path::Path,
    created: bool,
    region: &str,
) {
    let url = endpoint(addr);
    println!("coffer S3 gateway on {url}");
    println!("  store {store}, writing as device {device}");
    println!(
        "  access key {}{}",
        creds.access_key_id(),
        if created { " (new)" } else { "" }
    );
    println!("  secret in {} (profile {PROFILE})", creds_path.display());
    println!("For S3 clients in another shell:");
    println!("  export AWS_ENDPOINT_URL={url}");
    println!(
        "  export AWS_SHARED_CREDENTIALS_FILE={}",
        creds_path.display()
    );
    println!("  export AWS_PROFILE={PROFILE}");
    println!("  export AWS_REGION={region}");
    println!("  (or: eval \"$(coffer serve s3 --print-env)\" for the key and secret as variables)");
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
