#![no_main]
//! libFuzzer driver of `banjo_fuzz::filter_builtin` (the oracles are documented there).

libfuzzer_sys::fuzz_target!(init: banjo_fuzz::filter_builtin::init(), |data: &[u8]| banjo_fuzz::filter_builtin::run(data));
