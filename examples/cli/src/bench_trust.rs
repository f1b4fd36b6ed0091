//! `coffer bench trust`: what format v2's protections cost, each beside its baseline measured in
//! the same run: the signature trailer on seal and open of a large object (signed vs unsigned,
//! both computing the BLAKE3 root and outboard the CID needs), the encrypted heads on a sync of
//! two devices × N changes (head encryption vs signing alone, and the share of the sync it is),
//! and the padding of manifests in bytes on a vault of many objects.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use coffer::Identity;
use coffer::seal::{OpenReader, SealOptions, SealWriter};
use coffer::store::{DirStore, MemoryStore};
use coffer::vault::{HeadBody, PutOptions, Vault};

use crate::bench::{peak_rss_mib, round};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench trust`.
#[derive(clap::Args, Debug)]
pub struct TrustBenchArgs {
    /// Size of the object sealed and opened, signed and unsigned.
    #[arg(long, default_value = "1GiB", value_parser = files::parse_size)]
    size: u64,
    /// Changes per device in the two-device sync.
    #[arg(long, default_value_t = 1000)]
    changes: usize,
    /// Objects in the padding measurement.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::other(e.to_string())
}

/// Seals `size` bytes of incompressible data with an outboard (the CID needs one pass anyway);
/// returns the seconds and the sealed file.
fn seal_once(size: u64, opts: &SealOptions, path: &std::path::Path) -> CliResult<f64> {
    let file = std::fs::File::create(path).map_err(|e| CliError::io(path, e))?;
    let mut pool = vec![0u8; 1 << 20];
    blake3::Hasher::new_keyed(&[3; 32])
        .finalize_xof()
        .fill(&mut pool);
    let t = Instant::now();
    let mut w = SealWriter::with_outboard(io::BufWriter::with_capacity(1 << 20, file), opts)?;
    let mut left = size;
    let mut i = 0u64;
    while left > 0 {
        let n = (left as usize).min(pool.len());
        pool[..8].copy_from_slice(&i.to_le_bytes());
        w.write_all(&pool[..n]).map_err(err)?;
        left -= n as u64;
        i += 1;
    }
    let (_, _, outboard) = w.finish_outboard().map_err(err)?;
    std::hint::black_box(outboard.root());
    Ok(t.elapsed().as_secs_f64())
}

/// Opens the sealed file and checks its BLAKE3 root: unsigned objects hash alongside (as a
/// reader that checks a CID does); signed ones compute it while checking the trailer.
fn open_once(path: &std::path::Path, me: &Identity, signed: bool) -> CliResult<f64> {
    let file = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
    let t = Instant::now();
    let mut hashing = Hashing {
        inner: io::BufReader::with_capacity(1 << 20, file),
        hasher: (!signed).then(blake3::Hasher::new),
    };
    let mut r = OpenReader::new(&mut hashing, me)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(coffer::seal::SealError::from_io(e).into()),
        }
    }
    let root = match r.root() {
        Some(root) => *root,
        None => *hashing
            .hasher
            .take()
            .map(|h| h.finalize())
            .ok_or_else(|| CliError::other("no root"))?
            .as_bytes(),
    };
    std::hint::black_box(root);
    Ok(t.elapsed().as_secs_f64())
}

struct Hashing<R: Read> {
    inner: R,
    hasher: Option<blake3::Hasher>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Runs the bench.
pub fn run(args: TrustBenchArgs) -> CliResult {
    let me = Identity::generate();
    let dir = tempfile::tempdir().map_err(err)?;

    // 1. The trailer: signed vs unsigned, best of two runs each (the page cache warms up).
    let unsigned = SealOptions::new(vec![me.recipient().clone()]);
    let signed = unsigned.clone().signed_by(&me);
    let (pu, ps) = (dir.path().join("u"), dir.path().join("s"));
    let mut seal_u = f64::MAX;
    let mut seal_s = f64::MAX;
    let mut open_u = f64::MAX;
    let mut open_s = f64::MAX;
    for _ in 0..2 {
        seal_u = seal_u.min(seal_once(args.size, &unsigned, &pu)?);
        seal_s = seal_s.min(seal_once(args.size, &signed, &ps)?);
        open_u = open_u.min(open_once(&pu, &me, false)?);
        open_s = open_s.min(open_once(&ps, &me, true)?);
    }
    std::fs::remove_file(&pu).ok();
    std::fs::remove_file(&ps).ok();

    // 2. Heads: two devices × N changes on a directory store, then the head crypto alone.
    let (puts_s, sync_s, heads_written) = futures_executor::block_on(async {
        let store = Arc::new(DirStore::open(dir.path().join("store")).map_err(err)?);
        let mut a = Vault::create(store.clone(), me.clone(), "b", "a")
            .await
            .map_err(err)?;
        let mut b = Vault::open(store.clone(), me.clone(), "b", "b")
            .await
            .map_err(err)?;
        let t = Instant::now();
        for i in 0..args.changes {
            let k = format!("a/{i}");
            a.put(k.as_bytes(), vec![1], PutOptions::default())
                .await
                .map_err(err)?;
            let k = format!("b/{i}");
            b.put(k.as_bytes(), vec![2], PutOptions::default())
                .await
                .map_err(err)?;
        }
        let puts = t.elapsed().as_secs_f64();
        let t = Instant::now();
        a.sync().await.map_err(err)?;
        b.sync().await.map_err(err)?;
        a.sync().await.map_err(err)?;
        Ok::<_, CliError>((puts, t.elapsed().as_secs_f64(), 2 * args.changes + 5))
    })?;
    let body = HeadBody {
        v: 2,
        vault: "b".into(),
        writer: [7; 16],
        recipient: me.recipient().to_string(),
        key: coffer::block::raw_cid(b"k"),
        root: coffer::block::raw_cid(b"r"),
        seq: 1,
        time: 1,
        vv: BTreeMap::from([("a".repeat(32), 1000)]),
        gc: 0,
        pol: None,
        ho: None,
        rec: Default::default(),
    };
    let n = heads_written as u32;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(body.seal(&me, &[5; 32]).map_err(err)?);
    }
    let seal_heads = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(me.sign(b"a head body of about three hundred bytes"));
    }
    let sign_only = t.elapsed().as_secs_f64();

    // 3. Padding: N objects with keys and metadata of varied lengths.
    let (padded, pad) = futures_executor::block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::create(store, me.clone(), "p", "a")
            .await
            .map_err(err)?;
        let mut padded = 0u64;
        let mut pad = 0u64;
        for i in 0..args.objects {
            let key = format!("photos/{}/{}.jpg", i % 97, "x".repeat(i % 61));
            let opts = PutOptions {
                content_type: Some("image/jpeg".into()),
                metadata: BTreeMap::from([("camera".into(), "y".repeat(i % 23))]),
                ..Default::default()
            };
            let info = v.put(key.as_bytes(), vec![0], opts).await.map_err(err)?;
            let (len, p) = v.manifest_padding(&info.version).await.map_err(err)?;
            padded += len;
            pad += p;
        }
        Ok::<_, CliError>((padded, pad))
    })?;

    let report = serde_json::json!({
        "trailer": {
            "size_bytes": args.size,
            "seal_unsigned_s": round(seal_u),
            "seal_signed_s": round(seal_s),
            "seal_cost": round(seal_s / seal_u - 1.0),
            "open_unsigned_s": round(open_u),
            "open_signed_s": round(open_s),
            "open_cost": round(open_s / open_u - 1.0),
            "target_cost": 0.02,
        },
        "heads": {
            "devices": 2,
            "changes_per_device": args.changes,
            "puts_s": round(puts_s),
            "sync_s": round(sync_s),
            "heads_sealed": heads_written,
            "seal_heads_s": round(seal_heads),
            "sign_only_s": round(sign_only),
            "encryption_and_padding_s": round((seal_heads - sign_only).max(0.0)),
            "encryption_share_of_puts_and_sync": round(
                (seal_heads - sign_only).max(0.0) / (puts_s + sync_s)
            ),
        },
        "padding": {
            "objects": args.objects,
            "manifest_plaintext_bytes": padded,
            "pad_bytes": pad,
            "overhead": round(pad as f64 / (padded - pad).max(1) as f64),
        },
        "aead_backend": coffer::seal::AEAD_BACKEND,
        "peak_rss_mib": peak_rss_mib().map(round),
    });
    if args.json {
        println!("{report}");
    } else {
        println!("coffer bench trust");
        println!("{}", serde_json::to_string_pretty(&report).map_err(err)?);
    }
    Ok(())
}
