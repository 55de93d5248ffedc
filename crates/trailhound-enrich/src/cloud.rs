use std::net::IpAddr;
use std::path::Path;

use foldhash::HashMap;
use serde::Deserialize;

use crate::net::{self, PrefixTable};
use crate::{Error, Result};

/// Cloud address ranges from AWS's published `ip-ranges.json`, searched by longest prefix.
///
/// AWS lists every range under the umbrella service `AMAZON` and again under the specific
/// service (`EC2`, `S3`…); the most specific prefix wins, and among equal prefixes a specific
/// service wins over `AMAZON`.
#[derive(Debug, Clone, Default)]
pub struct CloudRanges {
    /// Networks → tag index, for IPv4 and IPv6.
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
    tags: Vec<Box<str>>,
}

#[derive(Deserialize)]
struct IpRangesFile {
    #[serde(default)]
    prefixes: Vec<Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<Prefix>,
}

#[derive(Deserialize)]
struct Prefix {
    #[serde(default, alias = "ipv6_prefix")]
    ip_prefix: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    service: Option<String>,
}

impl CloudRanges {
    /// Reads an `ip-ranges.json` file.
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::IpRanges`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::parse_aws(&net::read_text(path)?)
    }

    /// Parses the text of an `ip-ranges.json` file.
    ///
    /// # Errors
    /// [`Error::IpRanges`] when it is not JSON of that shape or a prefix does not parse.
    pub fn parse_aws(text: &str) -> Result<Self> {
        let file: IpRangesFile = serde_json::from_str(text).map_err(|e| Error::IpRanges {
            message: e.to_string(),
        })?;
        let mut ranges = CloudRanges::default();
        let mut tag_index: HashMap<String, u32> = HashMap::default();
        for prefix in file.prefixes.iter().chain(&file.ipv6_prefixes) {
            let Some(text) = prefix.ip_prefix.as_deref() else {
                continue;
            };
            let network: ipnet::IpNet = text.parse().map_err(|_| Error::IpRanges {
                message: format!("prefix {text:?} is not a network"),
            })?;
            let service = prefix.service.as_deref().unwrap_or("AMAZON");
            let region = prefix.region.as_deref().unwrap_or("GLOBAL");
            let tag = format!("aws:{service}:{region}");
            let next = u32::try_from(ranges.tags.len()).unwrap_or(u32::MAX);
            let index = *tag_index.entry(tag.clone()).or_insert_with(|| {
                ranges.tags.push(tag.into_boxed_str());
                next
            });
            let umbrella = service == "AMAZON";
            match network {
                ipnet::IpNet::V4(n) => {
                    ranges
                        .v4
                        .insert(n.prefix_len(), u32::from(n.network()), index, umbrella);
                }
                ipnet::IpNet::V6(n) => {
                    ranges
                        .v6
                        .insert(n.prefix_len(), u128::from(n.network()), index, umbrella);
                }
            }
        }
        Ok(ranges)
    }

    /// How many prefixes are loaded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when no prefix is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cloud tag of an address (`aws:EC2:us-east-1`), by longest prefix.
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Option<&str> {
        let index = match net::canonical(ip) {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4))?,
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6))?,
        };
        self.tags.get(index as usize).map(|t| &**t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGES: &str = r#"{"syncToken":"1","createDate":"2026-01-01-00-00-00",
      "prefixes":[
        {"ip_prefix":"198.51.100.0/24","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
        {"ip_prefix":"198.51.100.0/24","region":"us-east-1","service":"EC2","network_border_group":"us-east-1"},
        {"ip_prefix":"198.51.100.128/25","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
        {"ip_prefix":"192.0.2.0/24","region":"eu-west-1","service":"AMAZON","network_border_group":"eu-west-1"}],
      "ipv6_prefixes":[{"ipv6_prefix":"2001:db8:1000::/36","region":"us-west-2","service":"EC2","network_border_group":"us-west-2"}]}"#;

    #[test]
    fn longest_prefix_and_specific_service() {
        let r = CloudRanges::parse_aws(RANGES).unwrap();
        assert_eq!(
            r.lookup("198.51.100.7".parse().unwrap()),
            Some("aws:EC2:us-east-1")
        );
        assert_eq!(
            r.lookup("198.51.100.200".parse().unwrap()),
            Some("aws:S3:us-east-1")
        );
        assert_eq!(
            r.lookup("192.0.2.1".parse().unwrap()),
            Some("aws:AMAZON:eu-west-1")
        );
        assert_eq!(
            r.lookup("2001:db8:1000::5".parse().unwrap()),
            Some("aws:EC2:us-west-2")
        );
        assert_eq!(r.lookup("203.0.113.1".parse().unwrap()), None);
        assert!(CloudRanges::parse_aws(r#"{"prefixes":[{"ip_prefix":"x"}]}"#).is_err());
    }
}
