//! banjo's fuzz targets: one module per target, each with `run(data)`, the whole
//! target. `fuzz_targets/NAME.rs` hands it to libFuzzer (`cargo fuzz run NAME`,
//! bench/fuzz.sh); the main suite's tests/fuzz_smoke.rs includes this file and runs
//! every target over its committed inputs and a few thousand generated ones, without
//! libFuzzer. So this code depends on banjo and std only.
//!
//! An input is split on NUL bytes into parts (files, messages, chunks) where a target
//! takes several; what each part means is in the module's doc comment, with the
//! oracles it checks beyond "no panic". A finding is fixed in the module that owns the
//! code and its minimised input kept in fuzz/regressions/TARGET/ (docs/FUZZING.md).

pub mod config;
pub mod control;
pub mod fail2ban;
pub mod filter_builtin;
pub mod filter_compile;
pub mod filter_injection;
pub mod oracle;
pub mod pipeline;
pub mod syslog;

/// A target's entry: one input, checked by assertions.
pub type Run = fn(&[u8]);

/// The names of the targets, as `cargo fuzz run` and fuzz/regressions/ know them.
pub const TARGETS: &[(&str, Run)] = &[
    ("config", config::run),
    ("control", control::run),
    ("fail2ban", fail2ban::run),
    ("filter_builtin", filter_builtin::run),
    ("filter_compile", filter_compile::run),
    ("filter_injection", filter_injection::run),
    ("pipeline", pipeline::run),
    ("syslog", syslog::run),
];

/// The NUL-separated parts of `data`, at most `max` of them (the last one keeps any
/// further NULs).
pub fn parts(data: &[u8], max: usize) -> Vec<&[u8]> {
    data.splitn(max, |&b| b == 0).collect()
}

/// Text of a part: TOML, INI and patterns are text, so invalid UTF-8 is replaced
/// (the readers get a `&str` from the file system the same way, or an error).
pub fn text(part: &[u8]) -> String {
    String::from_utf8_lossy(part).into_owned()
}
