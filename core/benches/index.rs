//! Criterion benches of the index (run: `cargo bench -p coffer --features bench-internals`).
//! The full-size figures (1,000,000 keys) come from `coffer bench index --keys 1000000 --json`,
//! which calls `coffer::index::bench::run`.

use std::sync::Arc;

use coffer::index::bench::{photo_entries, photo_key};
use coffer::index::{IndexConfig, IndexKey, ListRequest, ProllyTree};
use coffer::store::MemoryStore;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures_executor::block_on;

const N: usize = 100_000;

fn tree() -> ProllyTree<MemoryStore> {
    ProllyTree::new(
        Arc::new(MemoryStore::new()),
        &IndexKey::from_bytes([42; 32]),
        IndexConfig::default(),
    )
    .expect("default config is valid")
}

fn benches(c: &mut Criterion) {
    let entries = photo_entries(N);
    let mut g = c.benchmark_group("index");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("bulk_load_100k", |b| {
        b.iter_batched(
            || (tree(), entries.clone()),
            |(t, e)| block_on(t.build(e)).expect("build"),
            BatchSize::LargeInput,
        )
    });
    let t = tree();
    let root = block_on(t.build(entries.clone())).expect("build");
    block_on(async {
        t.range(&root, None, None)
            .await
            .expect("range")
            .collect()
            .await
            .expect("scan")
    });
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("get_warm", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            block_on(t.get(&root, &photo_key(i))).expect("get")
        })
    });
    let flat = ListRequest {
        prefix: b"photos/2024/".to_vec(),
        ..ListRequest::default()
    };
    let delim = ListRequest {
        delimiter: Some(b"/".to_vec()),
        ..flat.clone()
    };
    g.bench_function("list_page_1000", |b| {
        b.iter(|| block_on(t.list(&root, &flat)).expect("list"))
    });
    g.bench_function("list_page_delimiter", |b| {
        b.iter(|| block_on(t.list(&root, &delim)).expect("list"))
    });
    let changed = block_on(t.apply(
        &root,
        (0..100).map(|j| {
            let e = entries[j * 997 % N].1.clone();
            (
                photo_key(j * 997 % N),
                coffer::index::Mutation::Put(coffer::index::Entry {
                    time: e.time.tick(0),
                    ..e
                }),
            )
        }),
    ))
    .expect("apply");
    g.bench_function("diff_100_changes", |b| {
        b.iter(|| block_on(t.diff(&root, &changed).collect()).expect("diff"))
    });
    g.finish();
}

criterion_group!(index, benches);
criterion_main!(index);
