//! The configuration file: TOML, versioned, one section per detector family.
//!
//! Every section is optional; an empty file (or no file) means the defaults: every built-in
//! detector on with its documented settings.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The complete commented example printed by `trailhound config --example`; a test checks
/// that it parses.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only 1 exists.
    #[serde(default = "version_one")]
    pub version: u32,
}

fn version_one() -> u32 {
    1
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, has unknown keys or an unsupported version.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid config {}", path.display()))
    }

    /// Parses config text.
    ///
    /// # Errors
    /// Not TOML, unknown keys, or an unsupported version.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        anyhow::ensure!(config.version == 1, "unsupported config version {} (expected 1)", config.version);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses() {
        Config::parse(EXAMPLE).unwrap();
    }
}
