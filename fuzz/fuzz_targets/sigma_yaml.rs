//! Fuzzes the Sigma rule reader and compiler: any text must give rules or an error, never a
//! panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailhound_sigma::{RuleSet, RuleSource, SigmaConfig, lint_sources};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = RuleSet::from_texts([("fuzz.yml", text)], &SigmaConfig::default());
    let _ = lint_sources(
        &[RuleSource {
            path: "fuzz.yml".into(),
            text: text.to_owned(),
        }],
        &SigmaConfig::default(),
    );
});
