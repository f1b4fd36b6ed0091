//! Outboard building and verification against plain BLAKE3 hashing, on one 64 MiB buffer.
//!
//! `cargo bench -p coffer --bench verify` runs the criterion benchmarks, then prints MiB/s of each
//! operation and its ratio to `blake3::hash` (best of several runs, same buffer).

use std::hint::black_box;
use std::time::{Duration, Instant};

use coffer::verify::{GROUP_SIZE, Outboard, OutboardBuilder, covering_range, verify_all};
use criterion::{Criterion, Throughput};

const LEN: usize = 64 * 1024 * 1024;
/// What sealing feeds per call: a 64 KiB AES-GCM segment plus its 16-byte tag.
const SEGMENT: usize = 64 * 1024 + 16;

fn buffer() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut data = Vec::with_capacity(LEN);
    while data.len() < LEN {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data
}

fn build_in_segments(data: &[u8]) -> Outboard {
    let mut builder = OutboardBuilder::new();
    for segment in data.chunks(SEGMENT) {
        builder.update(segment);
    }
    builder.finalize()
}

/// A named operation over the whole buffer.
type Operation<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// The operations compared, each over the whole buffer.
fn operations<'a>(data: &'a [u8], outboard: &'a Outboard) -> Vec<Operation<'a>> {
    let root = outboard.root();
    let ob = outboard.as_bytes();
    vec![
        (
            "blake3::hash",
            Box::new(move || {
                black_box(blake3::hash(black_box(data)));
            }),
        ),
        (
            "outboard, one update",
            Box::new(move || {
                black_box(Outboard::compute(black_box(data)));
            }),
        ),
        (
            "outboard, 64 KiB+16 updates",
            Box::new(move || {
                black_box(build_in_segments(black_box(data)));
            }),
        ),
        (
            "verify_all",
            Box::new(move || {
                verify_all(&root, black_box(data), ob).expect("the buffer matches its outboard");
            }),
        ),
    ]
}

fn criterion_benches(c: &mut Criterion, data: &[u8], outboard: &Outboard) {
    let mut group = c.benchmark_group("verify-64MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    for (name, op) in operations(data, outboard) {
        group.bench_function(name, |b| b.iter(&op));
    }
    group.finish();

    // One 1 MiB range in the middle: hashes only its 64 groups and ~20 pairs.
    let range = (LEN / 2) as u64..(LEN / 2 + 1024 * 1024) as u64;
    let span = covering_range(LEN as u64, range.clone()).expect("range inside the buffer");
    let covering = &data[span.start as usize..span.end as usize];
    let proof = outboard
        .range_proof(range.clone())
        .expect("range inside the buffer");
    let mut group = c.benchmark_group("verify-range-1MiB");
    group.throughput(Throughput::Bytes(range.end - range.start));
    group.bench_function("Outboard::verify_range", |b| {
        b.iter(|| {
            outboard
                .verify_range(range.clone(), black_box(covering))
                .map(|r| r.len())
        })
    });
    group.bench_function("RangeProof::verify", |b| {
        b.iter(|| proof.verify(black_box(covering)).map(|r| r.len()))
    });
    group.finish();
}

/// Best-of-N MiB/s of each operation, printed next to `blake3::hash` with the ratio. The runs are
/// interleaved (one of each operation per round) so that load from other processes hits all of
/// them alike.
fn print_ratios(data: &[u8], outboard: &Outboard) {
    const ROUNDS: usize = 11;
    let ops = operations(data, outboard);
    let mut best = vec![f64::INFINITY; ops.len()];
    for _ in 0..ROUNDS {
        for (i, (_, op)) in ops.iter().enumerate() {
            let start = Instant::now();
            op();
            best[i] = best[i].min(start.elapsed().as_secs_f64());
        }
    }
    let mib = LEN as f64 / (1024.0 * 1024.0);
    println!("\n64 MiB buffer, best of {ROUNDS} interleaved runs (groups of {GROUP_SIZE} bytes):");
    for ((name, _), secs) in ops.iter().zip(&best) {
        println!(
            "  {name:<30} {:>8.0} MiB/s   {:.3}x blake3::hash",
            mib / secs,
            best[0] / secs
        );
    }
}

fn main() {
    let data = buffer();
    let outboard = Outboard::compute(&data);
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &data, &outboard);
    c.final_summary();
    print_ratios(&data, &outboard);
}
