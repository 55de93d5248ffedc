//! Fuzzes the Sigma condition parser: any text must parse or give an error, never a panic or
//! unbounded recursion.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = trailhound_sigma::condition::parse(text);
});
