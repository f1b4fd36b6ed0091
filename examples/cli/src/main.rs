//! `coffer`: zero-trust storage from the terminal.
//!
//! Exit codes: 0 success; 1 any other failure (e.g. an unreachable store); 2 bad usage; 3 the data
//! failed authentication or verification (damaged, tampered, forged, or not for this identity);
//! 4 an I/O error (missing file, full disk, broken pipe); 5 no such key or version; 6 a
//! conditional put's condition did not hold; 7 a share that is not valid now (expired, not yet
//! valid, or revoked).

mod backend_cmd;
mod bench;
mod bench_car;
mod bench_cowrite;
mod bench_federation;
#[cfg(all(feature = "gateway", feature = "stores"))]
mod bench_gateway;
mod bench_gc;
#[cfg(feature = "stores")]
mod bench_import;
mod bench_pq;
mod bench_rotate;
mod bench_share;
#[cfg(feature = "stores")]
mod bench_store;
mod bench_support;
mod bench_trust;
mod bench_vault;
mod car_cmd;
mod config;
mod demo;
mod escape;
mod files;
mod import;
mod import_dir;
#[cfg(feature = "stores")]
mod import_s3;
mod keys;
mod link_cmd;
#[cfg(feature = "stores")]
mod pin_cmd;
mod prune_cmd;
mod scrub_cmd;
mod sealing;
#[cfg(feature = "gateway")]
mod serve_cmd;
mod share_cmd;
mod tree;
mod tree_get;
mod tree_put;
mod vault_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// coffer: keep files in storage you do not trust.
#[derive(Parser, Debug)]
#[command(name = "coffer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the whole story on a temporary directory: two devices, offline edits, sync, versions,
    /// a range read, verification, sharing, three identities co-writing (`--store URL`: the
    /// co-writing chapter on that store).
    Demo(demo::DemoArgs),
    /// Set up the vault the other commands use: store URL (default: a directory under
    /// $COFFER_HOME), identity (created if missing), vault and device names.
    ///
    /// Store URLs: file:///path, s3://bucket/prefix?endpoint=http://127.0.0.1:9000&path_style=true
    /// (credentials from the standard AWS environment variables and profiles), ipfs://127.0.0.1:5001
    /// (`?gateway=URL,URL…`: trustless gateways to read from, with failover),
    /// ipfs-cluster://127.0.0.1:9094?kubo=http://127.0.0.1:5001,http://127.0.0.1:5002&rmin=2&rmax=3&ns=NAME,
    /// ec:4+2:URL,URL,URL,URL,URL,URL (Reed–Solomon 4+2 over file:// and s3:// stores, heads in
    /// the first).
    Init(vault_cmd::InitArgs),
    /// Store a local file (or stdin) under a key, as a new version; with -r, every file of a
    /// directory under a key prefix.
    Put(vault_cmd::PutArgs),
    /// Read an object (verified) into a file or stdout; with -r, every object under a key prefix
    /// into a directory.
    Get(vault_cmd::GetArgs),
    /// List keys (ListObjectsV2: prefix, delimiter, pages).
    Ls(vault_cmd::LsArgs),
    /// Delete keys (their versions stay readable until a retention rule expires them), or with
    /// --purge take every version out of the history (their blocks go at the next prune).
    Rm(vault_cmd::RmArgs),
    /// Copy an object by reference (nothing is re-encrypted or uploaded).
    Cp(vault_cmd::CopyArgs),
    /// Move an object (copy by reference, then delete the source).
    Mv(vault_cmd::CopyArgs),
    /// List every version of a key, current first.
    Versions(vault_cmd::KeyArgs),
    /// Show an object's metadata.
    Stat(vault_cmd::KeyArgs),
    /// Print or replace an object's tags (`coffer tag KEY k=v …`; the version does not change).
    Tag(vault_cmd::TagArgs),
    /// Merge the other devices' changes into this device's view.
    Sync(vault_cmd::SyncArgs),
    /// Show or set which old versions the vault keeps (applied by `coffer prune`).
    #[command(subcommand)]
    Retention(prune_cmd::RetentionCommand),
    /// Apply the retention policy and delete what nothing references any more (safe while other
    /// devices write; --dry-run to see first).
    Prune(prune_cmd::PruneArgs),
    /// Keep the vault's blocks at a remote pinning service too (ipfs:// stores): `pin add`,
    /// `pin ls`, `pin rm`, `pin status`; the token from $COFFER_PIN_TOKEN or --token-file.
    #[cfg(feature = "stores")]
    #[command(subcommand)]
    Pin(pin_cmd::PinCommand),
    /// Check every shard and copy of an erasure-coded store (`--store ec:K+M:URL,…`, or
    /// `federation:` under an `rs K+M` policy) against the blocks' CIDs; --repair rewrites what is
    /// missing or corrupt from the survivors.
    Scrub(scrub_cmd::ScrubArgs),
    /// Backends of the `federation:` store: add, list, drain, remove, rebalance.
    #[command(subcommand)]
    Backend(backend_cmd::BackendCommand),
    /// The vault's placement policy (`federation:` stores): set, show.
    #[command(subcommand)]
    Policy(backend_cmd::PolicyCommand),
    /// Show the vault, store, device, and which devices have unmerged changes.
    Status(vault_cmd::SyncArgs),
    /// Share a key, a prefix or a version with a recipient until an expiry, through their inbox.
    Share(share_cmd::ShareArgs),
    /// List the shares this vault issued, with their status.
    Shares(share_cmd::SharesArgs),
    /// Revoke a share: its scope gets new keys, and only the remaining recipients receive them.
    Revoke(share_cmd::RevokeArgs),
    /// Give a shared key or prefix new keys (re-wrapped, no content re-uploaded).
    Rotate(share_cmd::RotateArgs),
    /// Re-encrypt every object under a prefix with new random keys (resumable).
    Reencrypt(share_cmd::ReencryptArgs),
    /// Print a link that opens the current version of a key with no identity until it expires
    /// (S3 stores: a presigned URL plus the key in the #fragment).
    Link(link_cmd::LinkArgs),
    /// Fetch, verify and decrypt what a `coffer link` points to.
    OpenLink(link_cmd::OpenLinkArgs),
    /// List the shares waiting for your identity in the store.
    Inbox(share_cmd::InboxArgs),
    /// Accept shares from your inbox (verified, then kept in your share book).
    Accept(share_cmd::AcceptArgs),
    /// Read what others shared with you.
    #[command(subcommand)]
    Shared(share_cmd::SharedCommand),
    /// Create an identity; print its public recipient as the last word of stdout.
    Keygen(keys::KeygenArgs),
    /// The vault owner's identity: `identity rotate` hands the vault over to a new identity.
    #[command(subcommand)]
    Identity(keys::IdentityCommand),
    /// Print the public recipient of an identity.
    Recipient(keys::RecipientArgs),
    /// Encrypt, sign and hash a file for one or more recipients.
    Seal(sealing::SealArgs),
    /// Decrypt a sealed file (all of it, or a byte range), verifying every segment.
    Open(sealing::OpenArgs),
    /// Print the CID and BLAKE3 root of a sealed file; with -i, also authenticate every byte.
    Verify(sealing::VerifyArgs),
    /// Serve your vaults to local tools: `coffer serve s3` is an S3-compatible gateway.
    #[cfg(feature = "gateway")]
    #[command(subcommand)]
    Serve(serve_cmd::ServeCommand),
    /// Write everything a vault references (blocks and heads) to a CAR file, verified block by
    /// block; run again to resume an interrupted export.
    Export(car_cmd::ExportArgs),
    /// Bring an existing bucket (`s3://bucket/prefix`, any endpoint, its own credentials) or a
    /// local directory into the vault, verified and resumable; or (`--car FILE`) check a
    /// `coffer export` file completely, then copy it into the store (--store). Run again to
    /// resume an interrupted import.
    Import(car_cmd::ImportArgs),
    /// Copy a whole vault from one store to another (an export and an import through a
    /// temporary file), e.g. from an old IPFS node to a new one or a cluster.
    Copy(car_cmd::CopyStoreArgs),
    /// Measure throughput and memory.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// Bad usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    /// Authentication or verification failure (exit 3).
    pub fn integrity(message: impl Into<String>) -> Self {
        Self {
            code: 3,
            message: message.into(),
        }
    }
    /// A failure with exit code `code`.
    pub fn with_code(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// Any other failure (exit 1).
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
    /// An I/O failure on `path` (exit 4).
    pub fn io(path: &std::path::Path, e: std::io::Error) -> Self {
        Self {
            code: 4,
            message: format!("{}: {e}", path.display()),
        }
    }
}

impl From<coffer::seal::SealError> for CliError {
    fn from(e: coffer::seal::SealError) -> Self {
        use coffer::seal::SealError as E;
        let code = match &e {
            E::Io(_) => 4,
            E::NoRecipients
            | E::TooManyRecipients(_)
            | E::InvalidRecipient
            | E::RangeOutOfBounds { .. } => 2,
            E::InvalidSegmentSize(_) => 2,
            _ => 3,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

impl From<coffer::keys::KeyError> for CliError {
    fn from(e: coffer::keys::KeyError) -> Self {
        Self::usage(e.to_string())
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Where an identity comes from: `-i FILE`, or the `COFFER_IDENTITY` environment variable.
#[derive(clap::Args, Debug, Clone)]
pub struct IdentityArg {
    /// Identity file (default: $COFFER_IDENTITY).
    #[arg(
        short = 'i',
        long = "identity",
        env = "COFFER_IDENTITY",
        value_name = "FILE"
    )]
    pub identity: Option<PathBuf>,
}

impl IdentityArg {
    /// Loads the identity, if one was given.
    pub fn load_optional(&self) -> CliResult<Option<coffer::Identity>> {
        self.identity
            .as_deref()
            .map(keys::read_identity)
            .transpose()
    }

    /// Loads the identity, or explains how to give one.
    pub fn load(&self) -> CliResult<coffer::Identity> {
        self.load_optional()?.ok_or_else(|| {
            CliError::usage(
                "this command needs an identity: pass -i FILE or set COFFER_IDENTITY \
                 (create one with `coffer keygen -o FILE`)",
            )
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Init(a) => vault_cmd::init(a),
        Command::Put(a) => vault_cmd::put(a),
        Command::Get(a) => vault_cmd::get(a),
        Command::Ls(a) => vault_cmd::ls(a),
        Command::Rm(a) => vault_cmd::rm(a),
        Command::Cp(a) => vault_cmd::copy(a, false),
        Command::Mv(a) => vault_cmd::copy(a, true),
        Command::Versions(a) => vault_cmd::versions(a),
        Command::Stat(a) => vault_cmd::stat(a),
        Command::Tag(a) => vault_cmd::tag(a),
        Command::Sync(a) => vault_cmd::sync(a),
        Command::Retention(c) => prune_cmd::retention(c),
        Command::Prune(a) => prune_cmd::prune(a),
        #[cfg(feature = "stores")]
        Command::Pin(c) => pin_cmd::pin(c),
        Command::Scrub(a) => scrub_cmd::scrub(a),
        Command::Backend(c) => backend_cmd::backend(c),
        Command::Policy(c) => backend_cmd::policy(c),
        Command::Status(a) => vault_cmd::status(a),
        Command::Share(a) => share_cmd::share(a),
        Command::Shares(a) => share_cmd::shares(a),
        Command::Revoke(a) => share_cmd::revoke(a),
        Command::Rotate(a) => share_cmd::rotate(a),
        Command::Reencrypt(a) => share_cmd::reencrypt(a),
        Command::Link(a) => link_cmd::link(a),
        Command::OpenLink(a) => link_cmd::open_link(a),
        Command::Inbox(a) => share_cmd::inbox(a),
        Command::Accept(a) => share_cmd::accept(a),
        Command::Shared(c) => share_cmd::shared(c),
        Command::Keygen(a) => keys::keygen(a),
        Command::Identity(c) => keys::identity(c),
        Command::Recipient(a) => keys::recipient(a),
        Command::Seal(a) => sealing::seal(a),
        Command::Open(a) => sealing::open(a),
        Command::Verify(a) => sealing::verify(a),
        #[cfg(feature = "gateway")]
        Command::Serve(c) => serve_cmd::serve(c),
        Command::Export(a) => car_cmd::export(a),
        Command::Import(a) => car_cmd::import(a),
        Command::Copy(a) => car_cmd::copy(a),
        Command::Bench(b) => bench::run(b),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
