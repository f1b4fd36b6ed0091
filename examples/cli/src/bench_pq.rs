//! `coffer bench pq`: what a post-quantum (X-Wing) recipient costs beside a classic (X25519)
//! one, measured in the same run: header bytes per recipient, the time to seal a small object to
//! N recipients of each kind, the time to open it (the reader's stanza is the last, so the
//! opener tries every stanza before it), and to derive an identity's X-Wing key.

use std::time::Instant;

use coffer::Identity;
use coffer::keys::Recipient;
use coffer::seal::{Header, SealOptions, open_to_vec, seal_to_vec};

use crate::bench::round;
use crate::{CliError, CliResult};

/// Arguments of `coffer bench pq`.
#[derive(clap::Args, Debug)]
pub struct PqBenchArgs {
    /// Recipients per object.
    #[arg(long, default_value_t = 10)]
    recipients: usize,
    /// Objects sealed and opened per kind.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

struct Kind {
    seal_us: f64,
    open_us: f64,
    header_bytes: usize,
}

fn measure(ids: &[Identity], to: Vec<Recipient>, rounds: usize) -> CliResult<Kind> {
    let opts = SealOptions::new(to);
    let plain = vec![7u8; 1024];
    let reader = ids
        .last()
        .ok_or_else(|| CliError::usage("--recipients must be at least 1"))?;
    let mut sealed = Vec::new();
    let t = Instant::now();
    for _ in 0..rounds {
        sealed = seal_to_vec(&opts, &plain)?;
    }
    let seal_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let header_bytes = Header::parse(&sealed)?.len();
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(open_to_vec(reader, &sealed)?);
    }
    let open_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    Ok(Kind {
        seal_us,
        open_us,
        header_bytes,
    })
}

/// Runs the bench.
pub fn run(args: PqBenchArgs) -> CliResult {
    let n = args.recipients.max(1);
    let rounds = args.rounds.max(1);
    let ids: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
    // The X-Wing key derivation, once per identity (lazily, on first use).
    let t = Instant::now();
    let pq: Vec<Recipient> = ids
        .iter()
        .map(|i| i.post_quantum_recipient().clone())
        .collect();
    let derive_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let classic = measure(
        &ids,
        ids.iter().map(|i| i.recipient().clone()).collect(),
        rounds,
    )?;
    let hybrid = measure(&ids, pq, rounds)?;
    let per = |k: &Kind| (k.header_bytes.saturating_sub(112)) as f64 / n as f64;
    let report = serde_json::json!({
        "recipients": n,
        "rounds": rounds,
        "object_bytes": 1024,
        "classic": {
            "seal_us": round(classic.seal_us),
            "open_us": round(classic.open_us),
            "header_bytes": classic.header_bytes,
            "bytes_per_recipient": round(per(&classic)),
        },
        "post_quantum": {
            "seal_us": round(hybrid.seal_us),
            "open_us": round(hybrid.open_us),
            "header_bytes": hybrid.header_bytes,
            "bytes_per_recipient": round(per(&hybrid)),
        },
        "seal_ratio_pq_to_classic": round(hybrid.seal_us / classic.seal_us),
        "open_ratio_pq_to_classic": round(hybrid.open_us / classic.open_us),
        "xwing_key_derivation_us": round(derive_us),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{n} recipients, 1 KiB object, {rounds} rounds\n\
             classic:      seal {:>8.1} µs  open (last stanza) {:>8.1} µs  header {} B ({:.0} B/recipient)\n\
             post-quantum: seal {:>8.1} µs  open (last stanza) {:>8.1} µs  header {} B ({:.0} B/recipient)\n\
             ratio pq/classic: seal {:.2}×  open {:.2}×;  X-Wing key derivation {:.1} µs per identity",
            classic.seal_us,
            classic.open_us,
            classic.header_bytes,
            per(&classic),
            hybrid.seal_us,
            hybrid.open_us,
            hybrid.header_bytes,
            per(&hybrid),
            hybrid.seal_us / classic.seal_us,
            hybrid.open_us / classic.open_us,
            derive_us,
        );
    }
    Ok(())
}
