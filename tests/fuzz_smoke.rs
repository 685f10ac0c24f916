//! A short run of every fuzz target (fuzz/, docs/FUZZING.md) without libFuzzer: each
//! target's entry function over its seeds (fuzz/seeds/TARGET/), its regression inputs
//! (fuzz/regressions/TARGET/: what the fuzzers once found, fixed since) and a few
//! thousand inputs made from those by random mutation. A target's oracles are its
//! assertions, so a regression comes back here as a failing test, in seconds.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod targets;

use std::path::Path;

/// Generated inputs per target: a few seconds each in a debug build. Fewer for the
/// two whose every input costs milliseconds: config compiles every built-in filter
/// twice per input, control sets up a socket per input.
fn generated(target: &str) -> usize {
    match target {
        "config" => 40,
        "control" => 300,
        _ => 2_000,
    }
}

fn inputs(kind: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// xorshift64*: the same inputs on every run, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `base` (libFuzzer's simplest ones), spliced with `other` at times.
fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.insert(at, rng.next() as u8),
            2 if at < v.len() => {
                let n = rng.below(v.len() - at + 1).min(16);
                v.drain(at..at + n);
            }
            3 => v.insert(
                at,
                [0u8, b'\n', b'%', b'<', b'[', b'=', b'"', b':'][rng.below(8)],
            ),
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = rng.below(other.len() - from + 1).min(64);
                v.splice(at..at, other[from..from + n].iter().copied());
            }
            _ => {
                let i = rng.below(v.len() + 1);
                let j = rng.below(v.len() + 1);
                let (a, b) = (i.min(j), i.max(j));
                let dup: Vec<u8> = v[a..b].to_vec();
                v.splice(b..b, dup);
            }
        }
    }
    v.truncate(16 << 10);
    v
}

fn smoke(target: &str) {
    let run = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .map(|(_, f)| *f)
        .expect("target listed in fuzz/src/lib.rs");
    let seeds = inputs("seeds", target);
    let regressions = inputs("regressions", target);
    assert!(!seeds.is_empty(), "no seeds in fuzz/seeds/{target}/");
    for input in seeds.iter().chain(&regressions) {
        run(input);
    }
    // Mutations start from the seeds only: a regression input is often one that is
    // costly by nature (a blow-up that is now cut short), and it has run above.
    let pool: Vec<&Vec<u8>> = seeds.iter().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    let mut current = pool[0].clone();
    for i in 0..generated(target) {
        let other = pool[rng.below(pool.len())];
        // Mostly mutate the last input further (depth), sometimes restart from a seed.
        if i % 16 == 0 {
            current = pool[rng.below(pool.len())].clone();
        }
        current = mutate(&mut rng, &current, other);
        run(&current);
    }
}

#[test]
fn every_target_has_a_smoke_test() {
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    let bins =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .unwrap();
    for n in &names {
        assert!(
            bins.contains(&format!("name = \"{n}\"")),
            "{n} has no [[bin]] in fuzz/Cargo.toml"
        );
    }
    let this = std::fs::read_to_string(file!()).unwrap();
    for n in names {
        assert!(
            this.contains(&format!("smoke(\"{n}\")")),
            "{n} has no smoke test here"
        );
    }
}

#[test]
fn config() {
    smoke("config");
}

#[test]
fn control() {
    smoke("control");
}

#[test]
fn fail2ban() {
    smoke("fail2ban");
}

#[test]
fn filter_builtin() {
    smoke("filter_builtin");
}

#[test]
fn filter_compile() {
    smoke("filter_compile");
}

#[test]
fn filter_injection() {
    smoke("filter_injection");
}

#[test]
fn pipeline() {
    smoke("pipeline");
}

/// The pipeline's seeds reach the ban decisions the oracles are about (recidive:
/// four sshd bans, the fifth burst comes while banned, and a recidive ban).
#[test]
fn pipeline_seeds_ban() {
    for (name, want) in [("sshd-bans", 2), ("mixed", 1), ("recidive", 5)] {
        let input = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/seeds/pipeline")
                .join(name),
        )
        .unwrap();
        let bans = targets::pipeline::replay(&input);
        assert!(bans >= want, "seed {name}: {bans} bans");
    }
}

#[test]
fn syslog() {
    smoke("syslog");
}
