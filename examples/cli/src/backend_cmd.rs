//! `coffer backend add|list|drain|remove|rebalance|default-policy` and `coffer policy set|show`:
//! a registry of backends with places (`backends.json` under the coffer home), the store URL
//! `federation:` that places blocks on them by a policy, and the vault's placement policy.
//!
//! `backends.json` is `{"default_policy": "replicate 2", "backends": [{"name", "url",
//! "region"?, "jurisdiction"?, "tags": [], "state": "active"|"draining"}]}`. A vault on
//! `federation:` uses its own policy (`coffer policy set`, stored sealed in the vault) once it has
//! one, the registry's default before.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use coffer::store::BlockStore;
use coffer::store::placed::{
    Backend, BackendState, BackendStore, PlacedStore, Policy, RebalanceOptions, RebalanceReport,
    check_label,
};
use serde_json::{Value, json};

use crate::config::{self, StoreUrl, VaultArgs};
use crate::vault_cmd::{block_on, print_json, vault_error};
use crate::{CliError, CliResult};

/// The default policy of a registry that names none.
pub const DEFAULT_POLICY: &str = "replicate 2";

/// One registered backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique name (placement depends on it).
    pub name: String,
    /// Store URL (`file://` or `s3://`).
    pub url: String,
    /// Region.
    pub region: Option<String>,
    /// Jurisdiction.
    pub jurisdiction: Option<String>,
    /// Tags.
    pub tags: BTreeSet<String>,
    /// Active or draining.
    pub state: BackendState,
}

/// The registry file.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// The policy of vaults that have none yet.
    pub default_policy: Option<String>,
    /// The backends, in the order they were added.
    pub backends: Vec<Entry>,
}

fn bad_file(path: &Path, why: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("{}: {why}; fix or delete it", path.display()))
}

impl Registry {
    fn path() -> CliResult<PathBuf> {
        Ok(config::home()?.join("backends.json"))
    }

    /// Reads `backends.json` (empty when there is none).
    pub fn load() -> CliResult<Self> {
        let path = Self::path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(CliError::io(&path, e)),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| bad_file(&path, e))?;
        let text_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let mut backends = Vec::new();
        for b in v
            .get("backends")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let (Some(name), Some(url)) = (text_of(&b, "name"), text_of(&b, "url")) else {
                return Err(bad_file(&path, "a backend without a name or url"));
            };
            let state = match b.get("state").and_then(Value::as_str) {
                None | Some("active") => BackendState::Active,
                Some("draining") => BackendState::Draining,
                Some(other) => return Err(bad_file(&path, format!("unknown state {other:?}"))),
            };
            backends.push(Entry {
                name,
                url,
                region: text_of(&b, "region"),
                jurisdiction: text_of(&b, "jurisdiction"),
                tags: b
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                state,
            });
        }
        Ok(Self {
            default_policy: text_of(&v, "default_policy"),
            backends,
        })
    }

    /// Writes `backends.json` atomically.
    pub fn save(&self) -> CliResult {
        let path = Self::path()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
        }
        let text = serde_json::to_string_pretty(&json!({
            "default_policy": self.default_policy,
            "backends": self.backends.iter().map(entry_json).collect::<Vec<_>>(),
        }))
        .map_err(|e| CliError::other(e.to_string()))?;
        let mut out = crate::files::Output::create(&path)?;
        std::io::Write::write_all(out.writer(), format!("{text}\n").as_bytes())
            .map_err(|e| CliError::io(&path, e))?;
        out.commit()
    }

    /// The default policy, parsed.
    pub fn default_policy(&self) -> CliResult<Policy> {
        let text = self.default_policy.as_deref().unwrap_or(DEFAULT_POLICY);
        text.parse()
            .map_err(|e| CliError::usage(format!("the registry's default policy {text:?}: {e}")))
    }

    fn index(&self, name: &str) -> CliResult<usize> {
        self.backends
            .iter()
            .position(|b| b.name == name)
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no backend named {name:?} (see `coffer backend list`)"
                ))
            })
    }
}

fn entry_json(b: &Entry) -> Value {
    json!({
        "name": b.name,
        "url": b.url,
        "region": b.region,
        "jurisdiction": b.jurisdiction,
        "tags": b.tags,
        "state": match b.state { BackendState::Active => "active", BackendState::Draining => "draining" },
    })
}

/// Connects every registered backend and places blocks on them by the registry's default policy
/// (the vault's own is applied once the vault is open: [`apply_vault_policy`]).
pub async fn connect_federation() -> CliResult<Arc<PlacedStore>> {
    let registry = Registry::load()?;
    if registry.backends.is_empty() {
        return Err(CliError::usage(
            "the federation has no backends: add some with `coffer backend add NAME URL`",
        ));
    }
    let mut backends = Vec::new();
    for e in &registry.backends {
        let store = Box::pin(StoreUrl::parse(&e.url)?.connect())
            .await
            .map_err(|err| CliError::other(format!("backend {}: {}", e.name, err_message(&err))))?;
        let mut b = Backend::new(e.name.clone(), Arc::new(store) as Arc<dyn BackendStore>);
        b.region = e.region.clone();
        b.jurisdiction = e.jurisdiction.clone();
        b.tags = e.tags.clone();
        b.state = e.state;
        backends.push(b);
    }
    let store = PlacedStore::new(backends, registry.default_policy()?)
        .map_err(|e| CliError::usage(format!("bad federation: {e}")))?;
    Ok(Arc::new(store))
}

fn err_message(e: &CliError) -> String {
    e.message.clone()
}

/// Places new writes of `store` by `vault`'s policy when it has one.
pub async fn apply_vault_policy(
    store: &PlacedStore,
    vault: &config::CliVault,
) -> CliResult<Option<Policy>> {
    let policy = vault.placement().await.map_err(vault_error)?;
    if let Some(p) = &policy {
        store
            .set_policy(p.clone())
            .map_err(|e| CliError::other(e.to_string()))?;
    }
    Ok(policy)
}

/// `coffer backend …`.
#[derive(clap::Subcommand, Debug)]
pub enum BackendCommand {
    /// Registers a backend (file:// or s3:// URL) of the `federation:` store.
    Add(AddArgs),
    /// Lists the backends with their state and health (blocks held, or why it cannot be reached).
    List(ListArgs),
    /// Marks a backend draining (nothing new is placed on it) and moves its data away.
    Drain(NameArgs),
    /// Forgets a backend; refused while it still holds blocks unless --force.
    Remove(RemoveArgs),
    /// Moves every copy and shard that is not where the policy in force places it.
    Rebalance(RebalanceArgs),
    /// Sets the policy of vaults that have none of their own yet (e.g. "replicate 2").
    DefaultPolicy(DefaultPolicyArgs),
}

/// Arguments of `coffer backend add`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Unique name (placement depends on it: renaming a backend moves data).
    name: String,
    /// Store URL: file:///path or s3://bucket/prefix?endpoint=…
    url: String,
    /// Region (`regions>=N` counts distinct regions).
    #[arg(long)]
    region: Option<String>,
    /// Jurisdiction (`jurisdiction=EU` matches it).
    #[arg(long)]
    jurisdiction: Option<String>,
    /// A tag (`tag=T` requires it); repeatable.
    #[arg(long = "tag")]
    tags: Vec<String>,
}

/// Arguments of `coffer backend list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A backend name (and the vault whose policy applies to a rebalance).
#[derive(clap::Args, Debug)]
pub struct NameArgs {
    /// The backend's name.
    name: String,
    /// Print the rebalance report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer backend remove`.
#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The backend's name.
    name: String,
    /// Remove it even though it holds blocks (they are lost to the federation).
    #[arg(long)]
    force: bool,
}

/// Arguments of `coffer backend rebalance`.
#[derive(clap::Args, Debug)]
pub struct RebalanceArgs {
    /// Resume after this block (the `last_block` of an interrupted rebalance's report).
    #[arg(long, value_name = "CID")]
    start_after: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer backend default-policy`.
#[derive(clap::Args, Debug)]
pub struct DefaultPolicyArgs {
    /// The policy, e.g. "replicate 3 regions>=2" or "rs 4+2 jurisdiction=EU".
    policy: String,
}

/// Runs `coffer backend …`.
pub fn backend(command: BackendCommand) -> CliResult {
    match command {
        BackendCommand::Add(a) => add(a),
        BackendCommand::List(a) => list(a),
        BackendCommand::Drain(a) => drain(a),
        BackendCommand::Remove(a) => remove(a),
        BackendCommand::Rebalance(a) => rebalance(a),
        BackendCommand::DefaultPolicy(a) => {
            let policy: Policy = a.policy.parse().map_err(policy_error)?;
            let mut registry = Registry::load()?;
            registry.default_policy = Some(policy.to_string());
            registry.save()?;
            println!("default policy: {policy}");
            Ok(())
        }
    }
}

fn policy_error(e: coffer::store::placed::PolicyError) -> CliError {
    CliError::usage(format!("bad policy: {e}"))
}

fn add(a: AddArgs) -> CliResult {
    let url = StoreUrl::parse(&a.url)?;
    if !matches!(url, StoreUrl::File(_) | StoreUrl::S3 { .. }) {
        return Err(CliError::usage(
            "a backend is a file:// or s3:// store (IPFS names blocks by their content and cannot \
             hold shards)",
        ));
    }
    coffer::store::validate_name(&a.name)
        .map_err(|e| CliError::usage(format!("backend name: {e}")))?;
    let label = |what, v: &str| check_label(what, v).map_err(policy_error);
    if let Some(r) = &a.region {
        label("region", r)?;
    }
    if let Some(j) = &a.jurisdiction {
        label("jurisdiction", j)?;
    }
    for t in &a.tags {
        label("tag", t)?;
    }
    let mut registry = Registry::load()?;
    for b in &registry.backends {
        if b.name == a.name {
            return Err(CliError::usage(format!(
                "a backend named {:?} exists already",
                a.name
            )));
        }
        if StoreUrl::parse(&b.url).ok().as_ref() == Some(&url) {
            return Err(CliError::usage(format!(
                "backend {:?} has this URL already: two backends on one store would hold the same \
                 pieces twice and count as two places",
                b.name
            )));
        }
    }
    let entry = Entry {
        name: a.name,
        url: a.url,
        region: a.region,
        jurisdiction: a.jurisdiction.map(|j| j.to_ascii_uppercase()),
        tags: a.tags.into_iter().collect(),
        state: BackendState::Active,
    };
    println!("added backend {} ({})", entry.name, entry.url);
    registry.backends.push(entry);
    registry.save()?;
    eprintln!("run `coffer backend rebalance` to move blocks that now belong on it");
    Ok(())
}

fn list(a: ListArgs) -> CliResult {
    let registry = Registry::load()?;
    let rows = block_on(async {
        let mut rows = Vec::new();
        for e in &registry.backends {
            let health = match StoreUrl::parse(&e.url)?.connect().await {
                Ok(store) => match store.list().await {
                    Ok(cids) => Ok(cids.len()),
                    Err(err) => Err(err.to_string()),
                },
                Err(err) => Err(err_message(&err)),
            };
            rows.push((e.clone(), health));
        }
        Ok(rows)
    })?;
    if a.json {
        let items: Vec<Value> = rows
            .iter()
            .map(|(e, h)| {
                let mut v = entry_json(e);
                match h {
                    Ok(n) => {
                        v["health"] = json!("ok");
                        v["objects"] = json!(n);
                    }
                    Err(why) => {
                        v["health"] = json!("unreachable");
                        v["error"] = json!(why);
                    }
                }
                v
            })
            .collect();
        return print_json(&json!({
            "default_policy": registry.default_policy.as_deref().unwrap_or(DEFAULT_POLICY),
            "backends": items,
        }));
    }
    if rows.is_empty() {
        println!("no backends: add some with `coffer backend add NAME URL`");
        return Ok(());
    }
    for (e, h) in rows {
        let state = match e.state {
            BackendState::Active => "active",
            BackendState::Draining => "draining",
        };
        let health = match h {
            Ok(n) => format!("ok, {n} objects"),
            Err(why) => format!("unreachable: {why}"),
        };
        let tags: Vec<&str> = e.tags.iter().map(String::as_str).collect();
        println!(
            "{}\t{state}\t{}\tregion={}\tjurisdiction={}\ttags={}\t{health}",
            e.name,
            e.url,
            e.region.as_deref().unwrap_or("-"),
            e.jurisdiction.as_deref().unwrap_or("-"),
            if tags.is_empty() {
                "-".to_string()
            } else {
                tags.join(",")
            },
        );
    }
    Ok(())
}

/// Rebalances the federation under the policy of the vault `args` name (its own, else the
/// registry's default).
fn run_rebalance(
    vault: &VaultArgs,
    start_after: Option<coffer::block::Cid>,
) -> CliResult<RebalanceReport> {
    let resolved = vault.resolve().ok();
    block_on(async {
        let store = connect_federation().await?;
        if let Some(r) = resolved.filter(|r| r.store == "federation:")
            && r.identity.exists()
        {
            let v = r.open_on(store.clone()).await?;
            apply_vault_policy(&store, &v).await?;
        }
        store
            .rebalance_with(&RebalanceOptions { start_after })
            .await
            .map_err(|e| CliError::other(format!("rebalance failed: {e}")))
    })
}

fn print_report(report: &RebalanceReport, json: bool) -> CliResult {
    if json {
        return print_json(
            &serde_json::to_value(report).map_err(|e| CliError::other(e.to_string()))?,
        );
    }
    println!(
        "{} blocks: {} moved, {} already placed, {} misplaced pieces deleted, {} failed",
        report.blocks,
        report.moved,
        report.already_placed,
        report.deleted,
        report.failed.len()
    );
    for (cid, why) in &report.failed {
        println!("failed {cid}: {why}");
    }
    for (name, why) in &report.unlisted {
        println!("could not list {name}: {why}");
    }
    Ok(())
}

fn finish(report: &RebalanceReport, json: bool) -> CliResult {
    print_report(report, json)?;
    if report.clean() {
        Ok(())
    } else {
        Err(CliError::other(
            "the rebalance left blocks where they were (see the report); run it again",
        ))
    }
}

fn drain(a: NameArgs) -> CliResult {
    let mut registry = Registry::load()?;
    let i = registry.index(&a.name)?;
    registry.backends[i].state = BackendState::Draining;
    registry.save()?;
    eprintln!("{} is draining; moving its blocks away", a.name);
    let report = run_rebalance(&a.vault, None)?;
    finish(&report, a.json)
}

fn remove(a: RemoveArgs) -> CliResult {
    let mut registry = Registry::load()?;
    let i = registry.index(&a.name)?;
    if !a.force {
        let url = StoreUrl::parse(&registry.backends[i].url)?;
        let held = block_on(async {
            let store = url.connect().await?;
            store.list().await.map_err(|e| {
                CliError::other(format!(
                    "cannot tell whether {} still holds blocks ({e}); use --force to remove it anyway",
                    a.name
                ))
            })
        })?;
        if !held.is_empty() {
            return Err(CliError::usage(format!(
                "{} still holds {} objects: drain it first (`coffer backend drain {}`), or \
                 --force to remove it anyway",
                a.name,
                held.len(),
                a.name
            )));
        }
    }
    registry.backends.remove(i);
    registry.save()?;
    println!("removed backend {}", a.name);
    Ok(())
}

fn rebalance(a: RebalanceArgs) -> CliResult {
    let start_after = a
        .start_after
        .as_deref()
        .map(|c| {
            c.parse()
                .map_err(|e| CliError::usage(format!("--start-after {c:?} is not a CID: {e}")))
        })
        .transpose()?;
    let report = run_rebalance(&a.vault, start_after)?;
    finish(&report, a.json)
}

/// `coffer policy …`: the vault's placement policy.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Stores the vault's placement policy (sealed in the vault), e.g. "rs 4+2 jurisdiction=EU".
    Set(PolicySetArgs),
    /// Shows the vault's placement policy (or the registry's default it falls back to).
    Show(PolicyShowArgs),
}

/// Arguments of `coffer policy set`.
#[derive(clap::Args, Debug)]
pub struct PolicySetArgs {
    /// `replicate N [regions>=R]` or `rs K+M`, then `jurisdiction=X[,Y]`, `tag=T`, `eu-only`.
    policy: String,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer policy show`.
#[derive(clap::Args, Debug)]
pub struct PolicyShowArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Runs `coffer policy …`.
pub fn policy(command: PolicyCommand) -> CliResult {
    match command {
        PolicyCommand::Set(a) => {
            let policy: Policy = a.policy.parse().map_err(policy_error)?;
            let resolved = a.vault.resolve()?;
            block_on(async {
                if resolved.store != "federation:" {
                    let mut v = resolved.open().await?;
                    return v.set_placement(Some(&policy)).await.map_err(vault_error);
                }
                // The policy block itself is written under the new policy, so a vault whose old
                // policy the registry cannot meet can still change it.
                let store = connect_federation().await?;
                store
                    .set_policy(policy.clone())
                    .map_err(|e| CliError::other(e.to_string()))?;
                let mut v = resolved.open_on(store.clone()).await?;
                v.set_placement(Some(&policy)).await.map_err(vault_error)
            })?;
            println!("placement policy: {policy}");
            if resolved.store == "federation:" {
                eprintln!("run `coffer backend rebalance` to move existing blocks");
            }
            Ok(())
        }
        PolicyCommand::Show(a) => {
            let resolved = a.vault.resolve()?;
            let own = block_on(async {
                let v = resolved.open().await?;
                v.placement().await.map_err(vault_error)
            })?;
            let (text, source) = match &own {
                Some(p) => (p.to_string(), "vault"),
                None => (Registry::load()?.default_policy()?.to_string(), "default"),
            };
            if a.json {
                return print_json(&json!({"policy": text, "source": source}));
            }
            println!(
                "{text}{}",
                if own.is_none() {
                    " (the registry's default)"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}
