//! `coffer keygen` and `coffer recipient`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use coffer::Identity;
use coffer::keys::{PassphraseParams, WALLET_MESSAGE};
use zeroize::Zeroizing;

use crate::{CliError, CliResult, IdentityArg, files};

/// Arguments of `coffer keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Write the identity to FILE (created with mode 0600) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Derive the identity from a passphrase and --account (Argon2id, 64 MiB, 3 passes) instead
    /// of drawing it at random: the same passphrase and account always give the same identity.
    /// The passphrase is read from $COFFER_PASSPHRASE if set, else asked twice on the terminal,
    /// else read as one line of stdin. Anyone with your recipient can try to guess it: use a long
    /// one.
    #[arg(long, requires = "account", conflicts_with_all = ["wallet_signature", "print_wallet_message"])]
    passphrase: bool,
    /// The account the passphrase belongs to (your e-mail or user name). Case matters; white
    /// space at both ends is ignored.
    #[arg(long, value_name = "NAME", requires = "passphrase")]
    account: Option<String>,
    /// Derive the identity from a wallet's signature (personal_sign) of the message that
    /// --print-wallet-message shows: 65 bytes in hex, 0x allowed, or `-` to read it from stdin
    /// (a signature on the command line stays in the shell history). Anyone who holds this
    /// signature holds the identity.
    #[arg(long, value_name = "HEX", conflicts_with = "print_wallet_message")]
    wallet_signature: Option<String>,
    /// Print the message to sign with a wallet for --wallet-signature, and exit.
    #[arg(long, conflicts_with_all = ["output", "force"])]
    print_wallet_message: bool,
}

/// Arguments of `coffer recipient`.
#[derive(clap::Args, Debug)]
pub struct RecipientArgs {
    #[command(flatten)]
    identity: IdentityArg,
    /// Print the post-quantum hybrid form (`cofferpq1…`, X-Wing: ML-KEM-768 + X25519): objects
    /// and shares sealed to it resist a future quantum computer. 2,065 characters.
    #[arg(long, conflicts_with = "did")]
    pq: bool,
    /// Print the identity as a W3C did:key (`did:key:z6Mk…`, its Ed25519 key). Sealing to it
    /// uses the X25519 key the did:key method derives from the Ed25519 key.
    #[arg(long)]
    did: bool,
}

/// Reads an identity file.
pub fn read_identity(path: &Path) -> CliResult<Identity> {
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?);
    Identity::from_file_contents(&text)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// `coffer keygen`.
pub fn keygen(args: KeygenArgs) -> CliResult {
    if args.print_wallet_message {
        println!("{WALLET_MESSAGE}");
        return Ok(());
    }
    let id = if args.passphrase {
        let account = args.account.as_deref().unwrap_or_default();
        let passphrase = read_passphrase()?;
        Identity::from_passphrase(&passphrase, account, &PassphraseParams::default())?
    } else if let Some(hex) = args.wallet_signature {
        let hex = Zeroizing::new(hex);
        let hex = if hex.as_str() == "-" {
            read_stdin_line()?
        } else {
            hex
        };
        Identity::from_wallet_signature(&decode_hex(&hex)?)?
    } else {
        Identity::generate()
    };
    let contents = id.to_file_contents();
    match &args.output {
        Some(path) => {
            files::write_secret_file(path, contents.as_bytes(), args.force)?;
            // The recipient stays the last word printed: scripts take it from there.
            println!("As a did:key: {}", id.did_key());
            println!(
                "Post-quantum recipient: coffer recipient --pq -i {}",
                path.display()
            );
            println!("Public recipient: {}", id.recipient());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(contents.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| CliError::io(Path::new("<stdout>"), e))?;
        }
    }
    Ok(())
}

/// The passphrase from $COFFER_PASSPHRASE, else asked twice without echo on the terminal, else
/// one line of stdin. Used byte for byte (only the line ending of stdin is removed).
fn read_passphrase() -> CliResult<Zeroizing<String>> {
    if let Some(value) = std::env::var_os("COFFER_PASSPHRASE") {
        return value
            .into_string()
            .map(Zeroizing::new)
            .map_err(|_| CliError::usage("COFFER_PASSPHRASE is not valid UTF-8"));
    }
    if !std::io::stdin().is_terminal() {
        return read_stdin_line();
    }
    let tty = |e| CliError::io(Path::new("<terminal>"), e);
    let first = Zeroizing::new(rpassword::prompt_password("Passphrase: ").map_err(tty)?);
    let second = Zeroizing::new(rpassword::prompt_password("Passphrase again: ").map_err(tty)?);
    if first != second {
        return Err(CliError::usage(
            "the two passphrases differ; nothing was written",
        ));
    }
    Ok(first)
}

/// One line of stdin without its line ending.
fn read_stdin_line() -> CliResult<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::io(Path::new("<stdin>"), e))?;
    let len = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(&line)
        .len();
    line.truncate(len);
    Ok(line)
}

/// Hex with an optional `0x`, white space at both ends ignored.
fn decode_hex(text: &str) -> CliResult<Zeroizing<Vec<u8>>> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bad = || CliError::usage("--wallet-signature: expected hex digits (0x allowed)");
    if !digits.len().is_multiple_of(2) {
        return Err(bad());
    }
    let nibble = |c: u8| (c as char).to_digit(16).ok_or_else(bad);
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.as_bytes().chunks(2) {
        let byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        out.push(u8::try_from(byte).expect("two hex digits fit a byte"));
    }
    Ok(out)
}

/// `coffer recipient`.
pub fn recipient(args: RecipientArgs) -> CliResult {
    let id = args.identity.load()?;
    if args.pq {
        println!("{}", id.post_quantum_recipient());
    } else if args.did {
        println!("{}", id.did_key());
    } else {
        println!("{}", id.recipient());
    }
    Ok(())
}

/// `coffer identity …`.
#[derive(clap::Subcommand, Debug)]
pub enum IdentityCommand {
    /// Hand the vault over to a new owner identity: the same vault key re-sealed to it, a
    /// handover signed by both identities, and this device's head signed by the new one (nothing
    /// is re-encrypted or re-uploaded). The old identity can no longer write to the vault. Run it
    /// again if it was interrupted. Sync every device first: a device that writes under the old
    /// identity after the handover is refused like a thief would be.
    Rotate(RotateArgs),
}

/// Arguments of `coffer identity rotate`.
#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    /// The new identity file: created (mode 0600, a random identity) when it does not exist,
    /// else used as it is (e.g. made with `coffer keygen`, or by an interrupted run).
    #[arg(long = "new", value_name = "FILE")]
    new: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    vault: crate::config::VaultArgs,
}

/// `coffer identity rotate`.
pub fn identity(cmd: IdentityCommand) -> CliResult {
    match cmd {
        IdentityCommand::Rotate(a) => rotate(a),
    }
}

fn rotate(args: RotateArgs) -> CliResult {
    use coffer::vault::{Vault, VaultOptions};
    let resolved = args.vault.resolve()?;
    let old = resolved.load_identity()?;
    let created = !args.new.exists();
    if created {
        let id = Identity::generate();
        files::write_secret_file(&args.new, id.to_file_contents().as_bytes(), false)?;
    }
    let new = read_identity(&args.new)?;
    let report = crate::vault_cmd::block_on(async {
        let url = crate::config::StoreUrl::parse(&resolved.store)?;
        let store: std::sync::Arc<dyn crate::config::AnyStore> =
            if url == crate::config::StoreUrl::Federation {
                crate::backend_cmd::connect_federation().await?
            } else {
                url.connect().await?
            };
        // This device's memory of the vault (kept per identity) goes on under the new one.
        let old_trust = crate::config::trust_for(&resolved.store, &old)?;
        let new_trust = crate::config::trust_for(&resolved.store, &new)?;
        let (_, report) = Vault::open_and_rotate_identity(
            store,
            old,
            new.clone(),
            &resolved.vault,
            &resolved.device,
            VaultOptions {
                trust: Some(old_trust.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(crate::vault_cmd::vault_error)?;
        let doc = format!("vault:{}", resolved.vault);
        if let Some(bytes) = old_trust
            .load(&doc)
            .await
            .map_err(|e| CliError::other(format!("cannot read the trust state: {e}")))?
        {
            new_trust
                .save(&doc, bytes)
                .await
                .map_err(|e| CliError::other(format!("cannot keep the trust state: {e}")))?;
        }
        Ok(report)
    })?;
    if args.json {
        return crate::vault_cmd::print_json(&serde_json::json!({
            "vault": resolved.vault,
            "handover": report.handover.to_string(),
            "key_block": report.key_block.to_string(),
            "from": report.from,
            "to": report.to,
            "final_heads": report.final_heads,
            "share_records": report.records,
            "bytes_written": report.bytes_written,
            "resumed": report.resumed,
            "new_identity_file": args.new.display().to_string(),
            "new_identity_created": created,
        }));
    }
    if report.resumed {
        println!("the vault was already handed over to this identity (an earlier run committed)");
    } else {
        println!(
            "handed vault {} over: {} final head(s) and {} share record(s) pinned, {} bytes written",
            resolved.vault, report.final_heads, report.records, report.bytes_written
        );
    }
    println!("handover:  {}", report.handover);
    println!("new identity file: {}", args.new.display());
    println!(
        "use it on every device from now on (-i {} or $COFFER_IDENTITY); the old identity can",
        args.new.display()
    );
    println!("no longer write to this vault. Compare the new recipient with the other devices");
    println!("out of band before using it there; shares must be given again.");
    println!("new recipient: {}", report.to);
    Ok(())
}
