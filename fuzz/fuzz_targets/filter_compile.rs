#![no_main]
//! libFuzzer driver of `banjo_fuzz::filter_compile` (the oracles are documented there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| banjo_fuzz::filter_compile::run(data));
