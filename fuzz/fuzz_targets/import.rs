//! Fuzzes the input-format reader (NDJSON, arrays, hook envelopes, gzip): never panic, and every
//! error names a line (1-based).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = okta::import::Source::Stdin;
    let Ok(reader) = okta::import::EventReader::from_reader(source, Box::new(std::io::Cursor::new(data.to_vec()))) else { return };
    for record in reader.take(10_000) {
        if let Err(okta::import::ImportError::Event { line, .. }) = record {
            assert!(line >= 1);
        }
    }
});
