//! Generator throughput: events per second written as `.json.gz`.
#![allow(clippy::unwrap_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = trailhound_gen::GenOptions::new(dir.path().join("tree"));
    options.days = 1;
    options.accounts = 2;
    options.events_per_day = 50_000;
    let events = trailhound_gen::generate(&options, &|_| {}).unwrap().events;
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function("s3-gzip6", |b| {
        b.iter(|| {
            let _ = std::fs::remove_dir_all(&options.out);
            trailhound_gen::generate(&options, &|_| {}).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
