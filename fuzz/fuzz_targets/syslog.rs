#![no_main]
//! libFuzzer driver of `banjo_fuzz::syslog` (the oracles are documented there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| banjo_fuzz::syslog::run(data));
