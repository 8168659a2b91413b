//! Fuzzes the stored-block decoder (what `verify` and queries read back from disk): corrupt
//! input is an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = store::codec::decode_block(1, data);
});
