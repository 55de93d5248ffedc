//! Append throughput: events per second through `Store::append_events` in batches of 10,000
//! generated records (decoding not included).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[path = "../tests/common/gen.rs"]
mod generator;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailhound_store::Store;

fn append(c: &mut Criterion) {
    let mut rng = generator::Rng::new(7);
    let batches: Vec<_> = (0..20)
        .map(|b| generator::events(&mut rng, b * 10_000, 10_000).0)
        .collect();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(10);
    let mut dirs = vec![tempfile::tempdir().unwrap()];
    let mut store = Store::open(dirs[0].path()).unwrap();
    let mut next = 0usize;
    group.bench_function("append_10k_events", |b| {
        b.iter(|| {
            // Fresh events every iteration: a repeat would be skipped as a duplicate.
            if next == batches.len() {
                let dir = tempfile::tempdir().unwrap();
                store = Store::open(dir.path()).unwrap();
                dirs.push(dir);
                next = 0;
            }
            store.append_events(&batches[next]).unwrap();
            next += 1;
        });
    });
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
