#![no_main]
//! libFuzzer driver of `banjo_fuzz::control` (the oracles are documented there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| banjo_fuzz::control::run(data));
