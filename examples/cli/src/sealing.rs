//! `coffer seal`, `coffer open`, `coffer verify`.

use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use coffer::Recipient;
use coffer::block;
use coffer::seal::{OpenReader, RangeReader, SealError, SealOptions, SealWriter, Unlock};
use coffer::verify::{Outboard, OutboardBuilder};

use crate::files::{self, Output};
use crate::{CliError, CliResult, IdentityArg};

/// Arguments of `coffer seal`.
#[derive(clap::Args, Debug)]
pub struct SealArgs {
    /// A recipient: `coffer1…`, a post-quantum `cofferpq1…` or a `did:key:z6Mk…`; repeat for
    /// several. Default: yourself (the identity's recipient).
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    recipients: Vec<String>,
    /// Your identity: the header is signed with it (recipients see who sealed the file).
    #[command(flatten)]
    identity: IdentityArg,
    /// Do not sign, even if an identity is available.
    #[arg(long)]
    no_sign: bool,
    /// Plaintext bytes per segment: a power of two from 1KiB to 16MiB.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = files::parse_size)]
    segment_size: u64,
    /// Also write the Bao outboard of the sealed file (~0.4 % of its size) to FILE, so any
    /// range read back from a server can be verified.
    #[arg(long, value_name = "FILE")]
    outboard: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// The file to seal (`-` for stdin).
    input: PathBuf,
    /// Where to write the sealed file (`-` for stdout).
    output: PathBuf,
}

/// Arguments of `coffer open`.
#[derive(clap::Args, Debug)]
pub struct OpenArgs {
    #[command(flatten)]
    identity: IdentityArg,
    /// Only this plaintext byte range, `START..END` (end exclusive; either may be omitted).
    /// Reads only the segments that hold it. Needs a file, not stdin.
    #[arg(long, value_name = "START..END", value_parser = parse_range)]
    range: Option<RangeSpec>,
    /// Require the file to be signed by this recipient: its signature must cover the content
    /// (a format-1 file, whose signature covers only its header, is refused).
    #[arg(long, value_name = "RECIPIENT")]
    signer: Option<String>,
    /// With --range: the file's Bao outboard (`coffer seal --outboard`), so the signature is
    /// checked without reading the whole file.
    #[arg(long, value_name = "FILE", requires = "range")]
    outboard: Option<PathBuf>,
    /// The sealed file (`-` for stdin).
    input: PathBuf,
    /// Where to write the plaintext (`-` for stdout). A file appears only if every byte
    /// authenticated (and the signature, when the file is signed).
    output: PathBuf,
}

/// Arguments of `coffer verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Also decrypt (without writing anything) to authenticate every segment.
    #[command(flatten)]
    identity: IdentityArg,
    /// Fail unless the file's CID is this one.
    #[arg(long, value_name = "CID")]
    cid: Option<String>,
    /// Fail unless FILE is this file's Bao outboard (as written by `coffer seal --outboard`).
    #[arg(long, value_name = "FILE")]
    outboard: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The sealed file (`-` for stdin).
    input: PathBuf,
}

/// A parsed `--range`.
#[derive(Clone, Debug)]
pub struct RangeSpec {
    start: Option<u64>,
    end: Option<u64>,
}

fn parse_range(s: &str) -> Result<RangeSpec, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or("expected START..END, e.g. 100..200, 100.. or ..200")?;
    let num = |t: &str| -> Result<Option<u64>, String> {
        if t.is_empty() {
            Ok(None)
        } else {
            files::parse_size(t).map(Some)
        }
    };
    Ok(RangeSpec {
        start: num(a)?,
        end: num(b)?,
    })
}

fn parse_recipients(texts: &[String]) -> CliResult<Vec<Recipient>> {
    texts
        .iter()
        .map(|t| {
            t.parse::<Recipient>()
                .map_err(|e| CliError::usage(format!("recipient `{}`: {e}", short(t))))
        })
        .collect()
}

/// The first characters of user input, for error messages (a pasted secret is not echoed whole).
fn short(t: &str) -> String {
    if t.len() > 12 {
        format!(
            "{}…",
            &t[..t.char_indices().nth(12).map_or(t.len(), |(i, _)| i)]
        )
    } else {
        t.into()
    }
}

/// Passes bytes through while computing the BLAKE3 root and Bao outboard of everything written.
struct Hashing<'a> {
    inner: &'a mut dyn Write,
    outboard: OutboardBuilder,
}

impl<'a> Hashing<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        Self {
            inner,
            outboard: OutboardBuilder::new(),
        }
    }
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.outboard.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `coffer seal`.
pub fn seal(args: SealArgs) -> CliResult {
    let identity = args.identity.load_optional()?;
    let mut recipients = parse_recipients(&args.recipients)?;
    if recipients.is_empty() {
        match &identity {
            Some(id) => recipients.push(id.recipient().clone()),
            None => {
                return Err(CliError::usage(
                    "no recipient: pass -r RECIPIENT (repeatable), or -i IDENTITY to seal to yourself",
                ));
            }
        }
    }
    let log2 = segment_log2(args.segment_size)?;
    let mut opts = SealOptions::new(recipients).segment_size_log2(log2);
    if let (Some(id), false) = (&identity, args.no_sign) {
        opts = opts.signed_by(id);
    }
    let mut input = files::input(&args.input)?;
    let mut out = Output::create(&args.output)?;
    let mut hashing = Hashing::new(out.writer());
    let mut w = SealWriter::new(&mut hashing, &opts)?;
    copy(&mut input, &mut w, &args.input)?;
    let (_, summary) = w.finish().map_err(|e| CliError::io(&args.output, e))?;
    let outboard = hashing.outboard.finalize();
    let root = outboard.root();
    if let Some(path) = &args.outboard {
        let mut o = Output::create(path)?;
        o.writer()
            .write_all(outboard.as_bytes())
            .map_err(|e| CliError::io(path, e))?;
        o.commit()?;
    }
    out.commit()?;
    if !args.quiet {
        eprintln!(
            "sealed {} bytes for {} recipient(s){} into {} bytes",
            summary.plaintext_len,
            opts.recipients().len(),
            if identity.is_some() && !args.no_sign {
                ", signed"
            } else {
                ""
            },
            summary.sealed_len
        );
        eprintln!(
            "cid: {}",
            block::cid_from_blake3(block::CODEC_RAW, root.as_bytes())
        );
    }
    Ok(())
}

fn segment_log2(size: u64) -> CliResult<u8> {
    let ok = size.is_power_of_two() && (1 << 10..=1 << 24).contains(&size);
    if !ok {
        return Err(CliError::usage(
            "--segment-size must be a power of two from 1KiB to 16MiB",
        ));
    }
    Ok(size.trailing_zeros() as u8)
}

fn copy(from: &mut dyn Read, to: &mut dyn Write, from_path: &Path) -> CliResult<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io(from_path, e)),
        };
        to.write_all(&buf[..n])
            .map_err(|e| CliError::from(SealError::from_io(e)))?;
        total += n as u64;
    }
}

/// `coffer open`.
pub fn open(args: OpenArgs) -> CliResult {
    let identity = args.identity.load()?;
    let expected = args.signer.as_deref().map(|s| {
        s.parse::<Recipient>()
            .map_err(|e| CliError::usage(format!("--signer `{}`: {e}", short(s))))
    });
    let expected = expected.transpose()?;
    let check_signer = |signer: Option<&Recipient>, header_only: bool| -> CliResult {
        match (&expected, signer) {
            (Some(_), Some(_)) if header_only => {
                Err(CliError::from(SealError::HeaderOnlySignature))
            }
            (Some(want), Some(got)) if want == got => Ok(()),
            (Some(_), _) => Err(CliError::from(SealError::UnexpectedSigner)),
            (None, _) => Ok(()),
        }
    };
    if let Some(spec) = &args.range {
        if args.input == Path::new("-") {
            return Err(CliError::usage(
                "--range needs a file: stdin cannot be read at random",
            ));
        }
        let file = std::fs::File::open(&args.input).map_err(|e| CliError::io(&args.input, e))?;
        let reader = match &args.outboard {
            Some(path) => {
                let pairs = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
                RangeReader::with_outboard_bytes(file, Unlock::Identity(&identity), pairs)?
            }
            None => RangeReader::new(file, &identity)?,
        };
        check_signer(reader.signer(), reader.header_only())?;
        let len = reader.plaintext_len();
        let range: Range<u64> = spec.start.unwrap_or(0)..spec.end.unwrap_or(len);
        let mut out = Output::create(&args.output)?;
        // Bounded memory whatever the range: 64 segments at a time.
        let step = 64 * (1u64 << 16);
        let mut at = range.start;
        if range.start > range.end || range.end > len {
            return Err(SealError::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len,
            }
            .into());
        }
        while at < range.end {
            let to = (at + step).min(range.end);
            let bytes = reader.read_range(at..to)?;
            out.writer()
                .write_all(&bytes)
                .map_err(|e| CliError::io(&args.output, e))?;
            at = to;
        }
        return out.commit();
    }
    let input = files::input(&args.input)?;
    let mut reader = OpenReader::new(input, &identity)?;
    if reader.header_only() || !reader.is_signed() {
        check_signer(reader.signer(), reader.header_only())?;
    } else if let Some(want) = &expected {
        // Signed in a trailer: checked at the end, before the last segment is released.
        reader = reader.require_signer(want)?;
    }
    let mut out = Output::create(&args.output)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(SealError::from_io(e).into()),
        };
        out.writer()
            .write_all(&buf[..n])
            .map_err(|e| CliError::io(&args.output, e))?;
    }
    out.commit()
}

/// `coffer verify`.
pub fn verify(args: VerifyArgs) -> CliResult {
    let identity = args.identity.load_optional()?;
    let mut input = files::input(&args.input)?;
    let mut sink = io::sink();
    let mut hashing = Hashing::new(&mut sink);
    let mut authenticated = None;
    match &identity {
        Some(id) => {
            // Authenticate while hashing: one pass over the input.
            let tee = TeeReader {
                inner: &mut input,
                hashing: &mut hashing,
            };
            let mut r = OpenReader::new(tee, id)?;
            let mut n = 0u64;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => n += k as u64,
                    Err(e) => return Err(SealError::from_io(e).into()),
                }
            }
            authenticated = Some((n, r.signer().cloned(), r.header_only()));
        }
        None => {
            copy(&mut input, &mut hashing, &args.input)?;
        }
    }
    let outboard = hashing.outboard.finalize();
    let root = outboard.root();
    let size = outboard.len();
    let cid = block::cid_from_blake3(block::CODEC_RAW, root.as_bytes());
    if args.json {
        let mut obj = serde_json::json!({
            "cid": cid.to_string(),
            "blake3": root.to_hex().to_string(),
            "size": size,
        });
        if let Some((n, signer, header_only)) = &authenticated {
            obj["plaintext_size"] = (*n).into();
            obj["signer"] = signer.as_ref().map(|s| s.to_string()).into();
            obj["signature_covers"] = if signer.is_none() {
                serde_json::Value::Null
            } else if *header_only {
                "header".into()
            } else {
                "content".into()
            };
        }
        println!("{obj}");
    } else {
        println!("cid: {cid}");
        println!("blake3: {}", root.to_hex());
        println!("size: {size}");
        if let Some((n, signer, header_only)) = &authenticated {
            println!("authenticated: {n} plaintext bytes");
            match signer {
                Some(s) if *header_only => println!(
                    "signed by: {s} (format 1: the signature covers the header only, not the content)"
                ),
                Some(s) => println!("signed by: {s}"),
                None => println!("signed by: (unsigned)"),
            }
        }
    }
    if let Some(path) = &args.outboard {
        check_outboard(path, &outboard)?;
        if !args.json {
            println!("outboard: matches");
        }
    }
    if let Some(want) = &args.cid
        && want.trim() != cid.to_string()
    {
        return Err(CliError::integrity(format!(
            "CID mismatch: expected {}, the file has {cid}",
            want.trim()
        )));
    }
    Ok(())
}

/// Feeds everything read through `hashing` as well.
struct TeeReader<'a, 'b> {
    inner: &'a mut dyn Read,
    hashing: &'a mut Hashing<'b>,
}

impl Read for TeeReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hashing.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn check_outboard(path: &Path, computed: &Outboard) -> CliResult {
    let stored = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    let stored = Outboard::from_parts(computed.root(), computed.len(), stored)
        .map_err(|e| CliError::integrity(format!("{}: {e}", path.display())))?;
    if stored.as_bytes() != computed.as_bytes() {
        return Err(CliError::integrity(format!(
            "{}: the outboard does not match this file (it belongs to another file or was modified)",
            path.display()
        )));
    }
    Ok(())
}
