//! `coffer scrub [--repair] [--json]`: check every shard and copy of an erasure-coded store
//! (`--store ec:K+M:URL,…`, or a `federation:` under an `rs K+M` policy) against the blocks' CIDs, and with --repair rewrite what is missing or
//! corrupt from the survivors. A progress bar on stderr counts the blocks.

use coffer::store::erasure::{ScrubOptions, ScrubReport};
use serde_json::json;

use crate::config::{StoreUrl, VaultArgs};
use crate::vault_cmd::{block_on, print_json};
use crate::{CliError, CliResult};

/// Arguments of `coffer scrub`.
#[derive(clap::Args, Debug)]
pub struct ScrubArgs {
    /// Rewrite missing and corrupt shards and copies from the surviving ones.
    #[arg(long)]
    repair: bool,
    /// Resume after this block (the `last_block` of an interrupted scrub's report).
    #[arg(long, value_name = "CID")]
    start_after: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Runs `coffer scrub`; exits 1 when something is left missing, corrupt or unreadable.
pub fn scrub(args: ScrubArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let url = StoreUrl::parse(&resolved.store)?;
    let start_after = args
        .start_after
        .as_deref()
        .map(|c| {
            c.parse()
                .map_err(|e| CliError::usage(format!("--start-after {c:?} is not a CID: {e}")))
        })
        .transpose()?;
    let report = block_on(async {
        let store = if url == StoreUrl::Federation {
            federation_erasure(&resolved).await?
        } else {
            url.connect_erasure().await?.0
        };
        let bar = progress(args.repair);
        let report = store
            .scrub_observed(
                &ScrubOptions {
                    repair: args.repair,
                    start_after,
                },
                |so_far, todo| {
                    bar.set_length(todo);
                    bar.set_position(so_far.blocks);
                    let bad: u64 = so_far.backends.iter().map(|b| b.missing + b.corrupt).sum();
                    let healed: u64 = so_far.backends.iter().map(|b| b.healed).sum();
                    bar.set_message(format!(
                        "{bad} missing or corrupt, {healed} healed, {} unrecoverable",
                        so_far.unrecoverable.len()
                    ));
                },
            )
            .await;
        bar.finish_and_clear();
        report.map_err(|e| CliError::other(format!("scrub failed: {e}")))
    })?;
    if args.json {
        print_json(&report_json(&report, args.repair))?;
    } else {
        print_table(&report, args.repair);
    }
    if report.clean() {
        Ok(())
    } else {
        Err(CliError::other(if args.repair {
            "the repair left blocks missing, corrupt or unreadable (see the report)"
        } else {
            "the scrub found missing or corrupt shards: run `coffer scrub --repair`"
        }))
    }
}

/// Blocks checked of those listed, with what was found so far, on stderr (hidden when stderr is
/// not a terminal).
fn progress(repair: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix} {bar:30} {pos}/{len} blocks {per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(if repair { "repair" } else { "scrub" });
    bar
}

/// The erasure store of a `federation:` vault whose policy (its own, else the registry's
/// default) is `rs K+M`: shards and copies are checked at the places that policy gives them.
async fn federation_erasure(
    resolved: &crate::config::Resolved,
) -> CliResult<coffer::store::erasure::ErasureStore> {
    let store = crate::backend_cmd::connect_federation().await?;
    if resolved.identity.exists() {
        let vault = resolved.open_on(store.clone()).await?;
        crate::backend_cmd::apply_vault_policy(&store, &vault).await?;
    }
    store.erasure().ok_or_else(|| {
        CliError::usage(format!(
            "the federation's policy is `{}`: scrub checks `rs K+M` policies; for copies, \
             `coffer backend rebalance` rewrites what is missing from its place",
            store.policy()
        ))
    })
}

fn report_json(r: &ScrubReport, repair: bool) -> serde_json::Value {
    json!({
        "repair": repair,
        "clean": r.clean(),
        "blocks": r.blocks,
        "coded": r.coded,
        "replicated": r.replicated,
        "backends": r.backends,
        "unrecoverable": r.unrecoverable.iter().map(|(c, why)| json!({"block": c, "why": why})).collect::<Vec<_>>(),
        "unlisted": r.unlisted.iter().map(|(b, why)| json!({"backend": b, "why": why})).collect::<Vec<_>>(),
        "last_block": r.last_block,
    })
}

fn print_table(r: &ScrubReport, repair: bool) {
    println!(
        "{} {} blocks ({} erasure-coded, {} replicated)",
        if repair { "repaired" } else { "scrubbed" },
        r.blocks,
        r.coded,
        r.replicated
    );
    println!("backend        ok   missing   corrupt    healed    failed");
    for b in &r.backends {
        println!(
            "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            b.index, b.ok, b.missing, b.corrupt, b.healed, b.failed
        );
    }
    for (c, why) in &r.unrecoverable {
        println!("unrecoverable {c}: {why}");
    }
    for (b, why) in &r.unlisted {
        println!("backend {b} could not be listed: {why}");
    }
}
