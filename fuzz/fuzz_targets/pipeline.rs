#![no_main]
//! libFuzzer driver of `banjo_fuzz::pipeline` (the oracles are documented there).

libfuzzer_sys::fuzz_target!(init: banjo_fuzz::pipeline::init(), |data: &[u8]| banjo_fuzz::pipeline::run(data));
