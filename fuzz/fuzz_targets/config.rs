#![no_main]
//! libFuzzer driver of `banjo_fuzz::config` (the oracles are documented there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| banjo_fuzz::config::run(data));
