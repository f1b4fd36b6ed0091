//! `coffer export --car FILE`, `coffer import --car FILE` and `coffer copy --from URL --to URL`:
//! moving a whole vault between stores (an old IPFS node to a new one or a cluster, S3, a
//! directory) through a CAR file, verified block by block, resumable (see `coffer::car`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coffer::car::{CarError, CarPhase, CarProgress, ExportReport, ImportReport};
use coffer::vault::VaultError;
use serde_json::json;

use crate::config::{StoreUrl, VaultArgs};
use crate::vault_cmd::{block_on, print_json, vault_error};
use crate::{CliError, CliResult};

/// How `export`, `import` and `copy` report.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Arguments of `coffer export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The file to write (written as FILE.part, renamed when complete; an interrupted export
    /// run again continues from FILE.part).
    #[arg(long = "car", value_name = "FILE")]
    car: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer import`: `SOURCE` (a bucket or directory, see [`crate::import`]) or
/// `--car FILE`, exactly one.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// What to import: s3://bucket/prefix (any S3 endpoint: --endpoint, --path-style, its own
    /// credentials) or a local directory. Every object keeps its key (minus the prefix, under
    /// --to), content type, user metadata and modification time; each is verified before it is
    /// committed, and a rerun skips what is already imported.
    #[arg(value_name = "SOURCE")]
    source: Option<String>,
    /// The export to read (`coffer export --car`). The vault keeps the name the file gives it.
    #[arg(long = "car", value_name = "FILE")]
    car: Option<PathBuf>,
    #[command(flatten)]
    from: crate::import::SourceArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Arguments of `coffer copy`.
#[derive(clap::Args, Debug)]
pub struct CopyStoreArgs {
    /// The store the vault is in (a store URL, as `coffer init --help` describes).
    #[arg(long, value_name = "URL")]
    from: String,
    /// The store to copy it to.
    #[arg(long, value_name = "URL")]
    to: String,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    vault: VaultArgs,
}

/// Maps an export or import error to an exit code.
fn car_error(e: CarError) -> CliError {
    match e {
        CarError::Vault(v) => vault_error(v),
        CarError::Store(s) => vault_error(VaultError::Store(s)),
        CarError::Io(e) => CliError::with_code(4, format!("CAR file: {e}")),
        CarError::HeadConflict { .. } => CliError::other(e.to_string()),
        other => CliError::integrity(other.to_string()),
    }
}

/// Prints progress to stderr at most every half second, and each step's end.
struct Meter {
    quiet: bool,
    last: Option<Instant>,
    phase: Option<CarPhase>,
}

impl Meter {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            last: None,
            phase: None,
        }
    }

    fn show(&mut self, p: &CarProgress) {
        if self.quiet {
            return;
        }
        let done = p.blocks_total > 0 && p.blocks_done == p.blocks_total;
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if !(due || done || self.phase != Some(p.phase)) {
            return;
        }
        self.last = Some(Instant::now());
        self.phase = Some(p.phase);
        let what = match p.phase {
            CarPhase::Walk => "walking the vault",
            CarPhase::Scan => "reading the file",
            CarPhase::Check => "checking it against the vault",
            CarPhase::Copy => "copying blocks",
            CarPhase::Heads => "writing heads",
        };
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let total = if p.blocks_total > 0 {
            format!("/{}", p.blocks_total)
        } else {
            String::new()
        };
        let bytes = match p.bytes_total {
            Some(t) => format!("{:.1}/{:.1} MiB", mib(p.bytes_done), mib(t)),
            None => format!("{:.1} MiB", mib(p.bytes_done)),
        };
        eprintln!("{what}: {}{total} blocks, {bytes}", p.blocks_done);
    }
}

fn part_path(car: &Path) -> PathBuf {
    let mut name = car.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Runs `coffer export`.
pub fn export(args: ExportArgs) -> CliResult {
    let resolved = args.vault.resolve()?;
    let part = part_path(&args.car);
    let mut meter = Meter::new(args.out.quiet);
    let report = block_on(async {
        let mut vault = resolved.open().await?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| CliError::io(&part, e))?;
        let mut cb = |p: &CarProgress| meter.show(p);
        let report = coffer::car::export_car(&mut vault, &mut file, Some(&mut cb))
            .await
            .map_err(car_error)?;
        file.sync_all().map_err(|e| CliError::io(&part, e))?;
        Ok(report)
    })?;
    std::fs::rename(&part, &args.car).map_err(|e| CliError::io(&args.car, e))?;
    print_export(&report, &args.car, args.out.json)
}

fn print_export(r: &ExportReport, car: &Path, json: bool) -> CliResult {
    if json {
        return print_json(&json!({
            "vault": r.vault,
            "file": car.display().to_string(),
            "blocks": r.blocks,
            "bytes": r.bytes,
            "resumed": r.resumed,
            "heads": r.heads,
            "file_bytes": r.file_len,
        }));
    }
    println!(
        "exported vault {} to {}: {} blocks, {} bytes, {} head records{}",
        r.vault,
        car.display(),
        r.blocks,
        r.bytes,
        r.heads,
        if r.resumed > 0 {
            format!(" ({} blocks kept from an interrupted export)", r.resumed)
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Runs `coffer import`.
pub fn import(args: ImportArgs) -> CliResult {
    let car = match (&args.source, args.car) {
        (Some(source), None) => {
            let resolved = args.vault.resolve()?;
            return crate::import::run(source, &args.from, resolved, args.out.json, args.out.quiet);
        }
        (None, Some(car)) => {
            if args.from.is_given() {
                return Err(CliError::usage(
                    "--to, --jobs, --commit-every, --delete-source, -v and the S3 options are for \
                     `coffer import SOURCE`, not for --car",
                ));
            }
            car
        }
        _ => {
            return Err(CliError::usage(
                "coffer import takes a SOURCE (s3://bucket/prefix or a directory) or --car FILE, \
                 exactly one",
            ));
        }
    };
    let resolved = args.vault.resolve()?;
    let identity = resolved.load_identity()?;
    let url = StoreUrl::parse(&resolved.store)?;
    let mut meter = Meter::new(args.out.quiet);
    let file = std::fs::File::open(&car).map_err(|e| CliError::io(&car, e))?;
    let report = block_on(async {
        let store = url.connect().await?;
        let mut cb = |p: &CarProgress| meter.show(p);
        coffer::car::import_car(&*store, &identity, file, Some(&mut cb))
            .await
            .map_err(car_error)
    })?;
    print_import(&report, args.out.json)
}

fn print_import(r: &ImportReport, json: bool) -> CliResult {
    if json {
        return print_json(&json!({
            "vault": r.vault,
            "blocks": r.blocks,
            "bytes": r.bytes,
            "skipped": r.skipped,
            "heads_written": r.heads_written,
            "heads_present": r.heads_present,
        }));
    }
    println!(
        "imported vault {}: {} blocks, {} bytes ({} already there), {} head records written ({} already there)",
        r.vault, r.blocks, r.bytes, r.skipped, r.heads_written, r.heads_present
    );
    Ok(())
}

/// Runs `coffer copy`: an export to a temporary file, then an import.
pub fn copy(args: CopyStoreArgs) -> CliResult {
    let mut from = args.vault.clone();
    from.store = Some(args.from.clone());
    let resolved = from.resolve()?;
    let identity = resolved.load_identity()?;
    let to = StoreUrl::parse(&args.to)?;
    let tmp = tempfile::tempfile().map_err(|e| CliError::other(format!("temporary file: {e}")))?;
    let mut meter = Meter::new(args.out.quiet);
    let report = block_on(async {
        let mut vault = resolved.open().await?;
        let mut file = tmp;
        let mut cb = |p: &CarProgress| meter.show(p);
        coffer::car::export_car(&mut vault, &mut file, Some(&mut cb))
            .await
            .map_err(car_error)?;
        drop(vault);
        let target = to.connect().await?;
        coffer::car::import_car(&*target, &identity, file, Some(&mut cb))
            .await
            .map_err(car_error)
    })?;
    print_import(&report, args.out.json)
}
