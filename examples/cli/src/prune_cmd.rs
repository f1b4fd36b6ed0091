//! Retention and garbage collection: `coffer retention show/set/clear`, `coffer prune`, and the
//! purge of `coffer rm --purge`.

use std::time::Duration;

use coffer::vault::{
    Noncurrent, PruneOptions, PruneProgress, PruneReport, RetentionPolicy, RetentionRule,
};
use serde_json::{Value, json};

use crate::config::{StoreUrl, VaultArgs};
use crate::vault_cmd::{block_on, print_json, vault_error};
use crate::{CliError, CliResult};

/// `coffer retention …`.
#[derive(clap::Subcommand, Debug)]
pub enum RetentionCommand {
    /// Print the vault's retention policy (every device sees the last one set, after a sync).
    Show(ShowArgs),
    /// Set the rule of a prefix (default: the vault-wide rule), replacing the one it had.
    Set(SetArgs),
    /// Remove the rule of a prefix, or every rule (`--all`): then everything is kept.
    Clear(ClearArgs),
}

/// Arguments of `coffer retention show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer retention set`.
#[derive(clap::Args, Debug)]
pub struct SetArgs {
    /// The key prefix the rule applies to (the longest matching prefix wins; none: every key).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Keep at least this many noncurrent versions of each key (the newest).
    #[arg(long, value_name = "N")]
    keep_versions: Option<u64>,
    /// Keep every version noncurrent for less than this (`30d`, `12h`, `2w`).
    #[arg(long, value_name = "DURATION")]
    keep_for: Option<String>,
    /// Keep no noncurrent version at all (needs --yes): each prune leaves only current versions.
    #[arg(long, conflicts_with_all = ["keep_versions", "keep_for", "keep_all"])]
    keep_none: bool,
    /// Keep every noncurrent version (the default without a rule).
    #[arg(long, conflicts_with_all = ["keep_versions", "keep_for"])]
    keep_all: bool,
    /// A deleted key's versions expire this long after the delete (`90d`; `0`: at the next
    /// prune, which needs --yes).
    #[arg(long, value_name = "DURATION")]
    expire_deleted: Option<String>,
    /// Confirm a rule that keeps nothing of what it covers.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer retention clear`.
#[derive(clap::Args, Debug)]
pub struct ClearArgs {
    /// The prefix whose rule goes (none: the vault-wide rule).
    #[arg(long, default_value = "", conflicts_with = "all")]
    prefix: String,
    /// Remove every rule.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Report what would expire and what would be deleted; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Delete an unreferenced block only once it has been unreferenced this long, as seen by two
    /// prunes at least this far apart (`0`: now, including uploads not yet committed).
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    window: String,
    /// How long to wait between announcing the collection and marking: it must exceed the time
    /// any device takes from checking the collection record to writing its head.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    grace: String,
    /// Only apply the retention policy (no collection).
    #[arg(long)]
    policy_only: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// A duration such as `30d`, or `0`.
pub fn duration_ms(text: &str, zero_ok: bool) -> CliResult<u64> {
    let t = text.trim();
    if zero_ok && (t == "0" || t == "now") {
        return Ok(0);
    }
    coffer::share::parse_duration_ms(t).map_err(|e| CliError::usage(e.to_string()))
}

fn shown(prefix: &[u8]) -> String {
    if prefix.is_empty() {
        "(every key)".into()
    } else {
        crate::escape::bytes(prefix)
    }
}

fn human_ms(ms: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (7 * 86_400_000, "w"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (unit, name) in UNITS {
        if ms >= unit && ms.is_multiple_of(unit) {
            return format!("{}{name}", ms / unit);
        }
    }
    format!("{ms}ms")
}

fn rule_json(r: &RetentionRule) -> Value {
    let (newest, younger) = match r.noncurrent {
        Noncurrent::KeepAll => (Value::Null, Value::Null),
        Noncurrent::KeepNone => (json!(0), Value::Null),
        Noncurrent::Keep {
            newest,
            younger_than_ms,
        } => (json!(newest), json!(younger_than_ms)),
    };
    json!({
        "prefix": String::from_utf8_lossy(&r.prefix),
        "keep_all": r.noncurrent == Noncurrent::KeepAll,
        "keep_versions": newest,
        "keep_for_ms": younger,
        "expire_deleted_ms": r.deleted_after_ms,
    })
}

fn rule_text(r: &RetentionRule) -> String {
    let keep = match r.noncurrent {
        Noncurrent::KeepAll => "keep every version".to_string(),
        Noncurrent::KeepNone => "keep no noncurrent version".to_string(),
        Noncurrent::Keep {
            newest,
            younger_than_ms,
        } => {
            let mut parts = Vec::new();
            if let Some(n) = newest {
                parts.push(format!("the newest {n} noncurrent versions"));
            }
            if let Some(a) = younger_than_ms {
                parts.push(format!("those noncurrent for less than {}", human_ms(a)));
            }
            format!("keep {}", parts.join(" and "))
        }
    };
    let deleted = match r.deleted_after_ms {
        None => String::new(),
        Some(0) => "; deleted keys expire at the next prune".into(),
        Some(ms) => format!("; deleted keys expire {} after the delete", human_ms(ms)),
    };
    format!("{}: {keep}{deleted}", shown(&r.prefix))
}

/// `coffer retention …`.
pub fn retention(cmd: RetentionCommand) -> CliResult {
    match cmd {
        RetentionCommand::Show(a) => show(a),
        RetentionCommand::Set(a) => set(a),
        RetentionCommand::Clear(a) => clear(a),
    }
}

fn show(args: ShowArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let (policy, set_ms) = block_on(async {
        let mut v = resolved.open().await?;
        v.sync().await.map_err(vault_error)?;
        Ok((
            v.retention().await.map_err(vault_error)?,
            v.retention_set_ms(),
        ))
    })?;
    if args.json {
        return print_json(&json!({
            "rules": policy.rules.iter().map(rule_json).collect::<Vec<_>>(),
            "set_at": set_ms.map(crate::vault_cmd::rfc3339),
        }));
    }
    if policy.rules.is_empty() {
        println!("no retention policy: every version is kept (prune still removes garbage)");
    }
    for r in &policy.rules {
        println!("{}", rule_text(r));
    }
    Ok(())
}

fn set(args: SetArgs) -> CliResult {
    let noncurrent = if args.keep_none {
        if !args.yes {
            return Err(CliError::usage(
                "--keep-none leaves only the current version of every key it covers: add --yes",
            ));
        }
        Noncurrent::KeepNone
    } else if args.keep_all {
        Noncurrent::KeepAll
    } else {
        let younger = args
            .keep_for
            .as_deref()
            .map(|d| duration_ms(d, false))
            .transpose()?;
        match (args.keep_versions, younger) {
            (Some(0), None) => {
                return Err(CliError::usage(
                    "--keep-versions 0 keeps no noncurrent version: say --keep-none --yes",
                ));
            }
            (Some(0), Some(_)) => {
                return Err(CliError::usage(
                    "--keep-versions 0 adds nothing to --keep-for: leave it out",
                ));
            }
            (None, None) if args.expire_deleted.is_none() => {
                return Err(CliError::usage(
                    "say what to keep: --keep-versions N, --keep-for DURATION, --keep-all or \
                     --keep-none --yes (and/or --expire-deleted DURATION)",
                ));
            }
            (None, None) => Noncurrent::KeepAll,
            (newest, younger_than_ms) => Noncurrent::Keep {
                newest,
                younger_than_ms,
            },
        }
    };
    let deleted_after_ms = args
        .expire_deleted
        .as_deref()
        .map(|d| duration_ms(d, true))
        .transpose()?;
    if deleted_after_ms == Some(0) && !args.yes {
        return Err(CliError::usage(
            "--expire-deleted 0 removes every deleted key's versions at the next prune: add --yes",
        ));
    }
    let rule = RetentionRule {
        prefix: args.prefix.into_bytes(),
        noncurrent,
        deleted_after_ms,
    };
    let resolved = args.vault.resolve()?;
    let text = rule_text(&rule);
    block_on(async {
        let mut v = resolved.open().await?;
        v.sync().await.map_err(vault_error)?;
        let mut policy = v.retention().await.map_err(vault_error)?;
        policy.rules.retain(|r| r.prefix != rule.prefix);
        policy.rules.push(rule);
        policy.rules.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        v.set_retention(&policy).await.map_err(vault_error)
    })?;
    println!("{text}");
    println!("(applied by the next `coffer prune` on any device)");
    Ok(())
}

fn clear(args: ClearArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    block_on(async {
        let mut v = resolved.open().await?;
        v.sync().await.map_err(vault_error)?;
        let mut policy = v.retention().await.map_err(vault_error)?;
        let before = policy.rules.len();
        if args.all {
            policy = RetentionPolicy::default();
        } else {
            policy.rules.retain(|r| r.prefix != args.prefix.as_bytes());
        }
        if policy.rules.len() == before {
            return Err(CliError::with_code(
                crate::vault_cmd::EXIT_NOT_FOUND,
                "no such rule",
            ));
        }
        v.set_retention(&policy).await.map_err(vault_error)
    })
}

fn count_json(c: &coffer::vault::BlockCount) -> Value {
    json!({"blocks": c.blocks, "bytes": c.bytes})
}

/// The JSON form of a prune report.
pub fn report_json(r: &PruneReport) -> Value {
    json!({
        "dry_run": r.dry_run,
        "epoch": r.epoch,
        "policy": {
            "keys_examined": r.keys_examined,
            "versions_expired": r.versions_expired,
            "versions_held": r.versions_held,
            "graveyards_expired": r.graveyards_expired,
        },
        "heads": r.heads,
        "views": r.views,
        "marked": count_json(&r.marked),
        "listed": count_json(&r.listed),
        "swept": count_json(&r.swept),
        "kept_young": count_json(&r.kept_young),
        "left": count_json(&r.left),
        "left_blocks": r.left_blocks.iter().map(|b| json!({"cid": b.cid, "reason": b.reason})).collect::<Vec<_>>(),
        "missing": r.missing.iter().map(|b| json!({"cid": b.cid, "what": b.reason})).collect::<Vec<_>>(),
        "blocks_read": r.blocks_read,
        "mark_set_peak_bytes": r.mark_set_peak_bytes,
        "sizes_known": r.sizes_known,
        "warnings": r.warnings,
        "ms": {"policy": r.policy_ms, "grace": r.grace_ms, "mark": r.mark_ms, "sweep": r.sweep_ms},
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn print_report(r: &PruneReport, window_ms: u64) {
    let would = if r.dry_run { "would be " } else { "" };
    println!(
        "policy:   {} of {} keys' versions {would}expired ({} held back: a kept version lies \
         behind them), {} deleted keys {would}expired",
        r.versions_expired, r.keys_examined, r.versions_held, r.graveyards_expired
    );
    if r.listed.blocks == 0 && r.marked.blocks == 0 {
        return;
    }
    println!(
        "marked:   {} blocks ({}) reachable from {} heads and {} share views; {} blocks read",
        r.marked.blocks,
        mib(r.marked.bytes),
        r.heads,
        r.views,
        r.blocks_read
    );
    println!(
        "{}:  {} blocks, {}",
        if r.dry_run { "would go" } else { "swept   " },
        r.swept.blocks,
        mib(r.swept.bytes)
    );
    if r.kept_young.blocks > 0 {
        println!(
            "kept:     {} unreferenced blocks ({}) for now: unreferenced for less than {}, a \
             later prune removes them",
            r.kept_young.blocks,
            mib(r.kept_young.bytes),
            human_ms(window_ms)
        );
    }
    if r.left.blocks > 0 {
        println!(
            "left:     {} unreferenced blocks ({}) the store did not delete:",
            r.left.blocks,
            mib(r.left.bytes)
        );
        for b in &r.left_blocks {
            println!("  {}  {}", b.cid, crate::escape::text(&b.reason));
        }
    }
    for m in &r.missing {
        println!(
            "missing:  {}  {} (damage from before this prune)",
            m.cid, m.reason
        );
    }
    if !r.sizes_known {
        println!("(this store does not list block sizes: byte counts are partial)");
    }
    for w in &r.warnings {
        println!("warning:  {}", crate::escape::text(w));
    }
}

/// `coffer prune`.
pub fn prune(args: PruneArgs) -> CliResult {
    let window_ms = duration_ms(&args.window, true)?;
    let grace_ms = duration_ms(&args.grace, true)?;
    let resolved = args.vault.resolve()?;
    let opts = PruneOptions {
        dry_run: args.dry_run,
        window_ms,
        policy_only: args.policy_only,
    };
    let report = block_on(async {
        let mut v = resolved.open().await?;
        let timing = v.gc_timing();
        v.set_gc_timing(coffer::vault::GcTiming { grace_ms, ..timing });
        let bar = spinner();
        let mut on = |p: &PruneProgress| {
            bar.set_message(match p {
                PruneProgress::Policy { keys } => format!("applying the policy: {keys} keys"),
                PruneProgress::Grace { ms } => {
                    format!("waiting {} for writes in flight", human_ms(*ms))
                }
                PruneProgress::Mark { blocks } => format!("marking: {blocks} blocks reachable"),
                PruneProgress::List { blocks } => format!("listed {blocks} blocks"),
                PruneProgress::Sweep { done, total } => format!("deleting: {done}/{total}"),
            });
        };
        let report = v.prune(opts, Some(&mut on)).await.map_err(vault_error);
        bar.finish_and_clear();
        let report = report?;
        // Leftovers of interrupted writes on a directory store (never a young one).
        if !args.dry_run
            && let Ok(StoreUrl::File(path)) = StoreUrl::parse(&resolved.store)
            && let Ok(dir) = coffer::store::DirStore::open(&path)
        {
            let _ = dir.clean_temp_files(Duration::from_millis(window_ms.max(3_600_000)));
        }
        Ok(report)
    })?;
    if args.json {
        print_json(&report_json(&report))?;
    } else {
        print_report(&report, window_ms);
    }
    if report.left.blocks > 0 && !report.dry_run {
        return Err(CliError::other(format!(
            "{} unreferenced blocks were left in the store (see the report)",
            report.left.blocks
        )));
    }
    Ok(())
}

fn spinner() -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// `coffer rm --purge KEY…`: every version of each key leaves the history now; the next prune
/// deletes their blocks.
pub fn purge(vault: &VaultArgs, keys: &[String], json_out: bool) -> CliResult {
    let resolved = vault.resolve()?;
    block_on(async {
        let mut v = resolved.open().await?;
        let mut results = Vec::new();
        let mut first_error = None;
        for key in keys {
            match v.purge(key.as_bytes()).await {
                Ok(r) => {
                    if !json_out {
                        println!(
                            "purged {} ({} versions; their blocks go at the next `coffer prune`)",
                            crate::escape::text(key),
                            r.versions
                        );
                    }
                    results.push(json!({"key": key, "purged": true, "versions": r.versions}));
                }
                Err(e) => {
                    if !json_out {
                        eprintln!("coffer: {}: {e}", crate::escape::text(key));
                    }
                    results.push(json!({"key": key, "purged": false, "error": e.to_string()}));
                    first_error.get_or_insert(e);
                }
            }
        }
        if json_out {
            print_json(&json!({ "results": results }))?;
        }
        match first_error {
            None => Ok(()),
            Some(e) => {
                let mut err = vault_error(e);
                err.message = "some keys were not purged (see above)".into();
                Err(err)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print() {
        assert_eq!(duration_ms("30d", false).ok(), Some(30 * 86_400_000));
        assert_eq!(duration_ms("0", true).ok(), Some(0));
        assert!(duration_ms("0", false).is_err());
        assert!(duration_ms("-1d", true).is_err());
        assert!(duration_ms("1y", true).is_err());
        assert_eq!(human_ms(14 * 86_400_000), "2w");
        assert_eq!(human_ms(90_000), "90s");
    }
}
