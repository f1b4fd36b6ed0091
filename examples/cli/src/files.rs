//! Files: `-` for stdin/stdout, atomic outputs, secret files, sizes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::{CliError, CliResult};

/// Opens `path` for reading, or stdin for `-`.
pub fn input(path: &Path) -> CliResult<Box<dyn Read>> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin().lock()));
    }
    let f = File::open(path).map_err(|e| CliError::io(path, e))?;
    Ok(Box::new(io::BufReader::with_capacity(1 << 20, f)))
}

/// An output that appears at its path only when committed: written to a temporary file in the
/// same directory and renamed over the target, so a failure never leaves partial plaintext (or
/// a half-sealed file) under the final name. `-` writes to stdout directly.
pub struct Output {
    path: PathBuf,
    temp: Option<tempfile::NamedTempFile>,
    writer: Box<dyn Write>,
}

impl Output {
    /// Prepares an output at `path` (`-` for stdout).
    pub fn create(path: &Path) -> CliResult<Self> {
        if path == Path::new("-") {
            return Ok(Self {
                path: path.into(),
                temp: None,
                writer: Box::new(io::stdout().lock()),
            });
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".coffer-tmp-")
            .tempfile_in(dir)
            .map_err(|e| CliError::io(dir, e))?;
        let file = temp.reopen().map_err(|e| CliError::io(temp.path(), e))?;
        Ok(Self {
            path: path.into(),
            temp: Some(temp),
            writer: Box::new(io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(mut self) -> CliResult {
        self.writer
            .flush()
            .map_err(|e| CliError::io(&self.path, e))?;
        drop(self.writer);
        if let Some(temp) = self.temp {
            temp.as_file()
                .sync_all()
                .map_err(|e| CliError::io(&self.path, e))?;
            temp.persist(&self.path)
                .map_err(|e| CliError::io(&self.path, e.error))?;
        }
        Ok(())
    }
}

/// Writes a secret file readable only by its owner; refuses to overwrite unless `force`.
pub fn write_secret_file(path: &Path, contents: &[u8], force: bool) -> CliResult {
    if !force {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                CliError::usage(format!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                ))
            } else {
                CliError::io(path, e)
            }
        })?;
        return f
            .write_all(contents)
            .and_then(|()| f.sync_all())
            .map_err(|e| CliError::io(path, e));
    }
    // --force: a new private file renamed over the old one, so the old file's permissions (or
    // other hard links to it) never carry over to the new secret.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".coffer-secret-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let mut tmp = builder.tempfile_in(dir).map_err(|e| CliError::io(dir, e))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| CliError::io(path, e))?;
    tmp.persist(path).map_err(|e| CliError::io(path, e.error))?;
    Ok(())
}

/// Parses sizes like `1GiB`, `64KiB`, `10MB`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 64KiB or 1GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
