//! `coffer keygen` and `coffer recipient`.

use std::io::Write;
use std::path::{Path, PathBuf};

use coffer::Identity;

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
}

/// Arguments of `coffer recipient`.
#[derive(clap::Args, Debug)]
pub struct RecipientArgs {
    #[command(flatten)]
    identity: IdentityArg,
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
    let id = Identity::generate();
    let contents = id.to_file_contents();
    match &args.output {
        Some(path) => {
            files::write_secret_file(path, contents.as_bytes(), args.force)?;
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

/// `coffer recipient`.
pub fn recipient(args: RecipientArgs) -> CliResult {
    println!("{}", args.identity.load()?.recipient());
    Ok(())
}
