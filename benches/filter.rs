//! Filter hot path: what one entry costs when it misses (most of the journal) and when
//! it hits, for the sshd filter in normal and aggressive mode and for an inline regex;
//! and hits from 200k connections, which fill the session's id table to its cap.

use banjo::filter::{Filter, FilterRef, Session};
use banjo::journal::Entry;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::sync::Arc;

const MISSES: &[&str] = &[
    "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)",
    "Received disconnect from 192.0.2.10 port 50522:11: disconnected by user",
    "Server listening on 0.0.0.0 port 22.",
    "Connection closed by 192.0.2.44 port 4242",
    "Disconnected from user deploy 192.0.2.10 port 50522",
];
const HITS: &[&str] = &[
    "Failed password for root from 203.0.113.5 port 52214 ssh2",
    "Failed password for invalid user admin from 2001:db8::5 port 40000 ssh2",
    "Invalid user oracle from 198.51.100.23 port 33012",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.77  user=root",
];

fn entries(msgs: &[&str]) -> Vec<Entry> {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| {
            let mut e = Entry::default();
            e.set_message(m.as_bytes());
            e.fields.set("_PID", (1000 + i).to_string().as_bytes());
            e
        })
        .collect()
}

fn sshd(mode: &str) -> Arc<Filter> {
    let r = FilterRef::parse(&format!("sshd[mode={mode}]")).unwrap();
    Arc::new(Filter::load(&r, &[]).unwrap_or_else(|e| panic!("{e:?}")))
}

fn bench(c: &mut Criterion) {
    let misses = entries(MISSES);
    let hits = entries(HITS);
    for mode in ["normal", "aggressive"] {
        let f = sshd(mode);
        let mut g = c.benchmark_group(format!("sshd-{mode}"));
        g.throughput(Throughput::Elements(misses.len() as u64));
        g.bench_function("miss", |b| {
            let mut s = Session::new(f.clone());
            b.iter(|| {
                for e in &misses {
                    black_box(s.process(e));
                }
            })
        });
        g.throughput(Throughput::Elements(hits.len() as u64));
        g.bench_function("hit", |b| {
            let mut s = Session::new(f.clone());
            b.iter(|| {
                for e in &hits {
                    black_box(s.process(e));
                }
            })
        });
        g.finish();
    }
    // Correlation at size: every hit is a new connection (a _PID ~6 above the last,
    // as in the bench traffic), so the session's id table fills to its cap and
    // sweeps; the hits above stay in a handful of slots.
    let f = sshd("normal");
    let mut g = c.benchmark_group("sshd-normal");
    let many: Vec<Entry> = (0..200_000u32)
        .map(|i| {
            let mut e = Entry::default();
            e.set_message(HITS[i as usize % HITS.len()].as_bytes());
            e.fields
                .set("_PID", (20_000 + 6 * i).to_string().as_bytes());
            e.time_us = i64::from(i) * 10_000;
            e
        })
        .collect();
    g.throughput(Throughput::Elements(many.len() as u64));
    g.sample_size(10);
    g.bench_function("hit, 200k connections", |b| {
        b.iter(|| {
            let mut s = Session::new(f.clone());
            for e in &many {
                black_box(s.process(e));
            }
        })
    });
    g.finish();
    let inline = Arc::new(Filter::inline(r"^Failed password for .* from <HOST> port \d+").unwrap());
    let mut g = c.benchmark_group("inline");
    g.throughput(Throughput::Elements(misses.len() as u64));
    g.bench_function("miss", |b| {
        let mut s = Session::new(inline.clone());
        b.iter(|| {
            for e in &misses {
                black_box(s.process(e));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
