//! Which address range stands for which country and network in generated data.
//!
//! Every public source address the generator writes comes from [`NETWORKS`]: the RFC 5737
//! documentation ranges cut into /26 blocks, each given a country, a documentation AS number
//! (RFC 5398) and an organisation. Tests that exercise GeoIP enrichment build a matching
//! MaxMind database from this table.

/// What a network is used for in the generated organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// A company office.
    Office,
    /// A home broadband provider.
    Home,
    /// Hosted CI runners.
    Ci,
    /// A hosting provider attackers rent servers from.
    Hosting,
    /// A consumer network in a country nobody in the organisation works from.
    Foreign,
}

/// One network of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Network {
    /// The range, `a.b.c.d/len`.
    pub cidr: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    /// Autonomous system number.
    pub asn: u32,
    /// Organisation owning the AS.
    pub org: &'static str,
    /// What the generator uses it for.
    pub purpose: Purpose,
}

/// The networks of generated data (all /26 blocks of RFC 5737 ranges).
pub const NETWORKS: &[Network] = &[
    Network {
        cidr: "192.0.2.0/26",
        country: "US",
        asn: 64496,
        org: "Example Corp Offices",
        purpose: Purpose::Office,
    },
    Network {
        cidr: "192.0.2.64/26",
        country: "US",
        asn: 64497,
        org: "Example Cable US",
        purpose: Purpose::Home,
    },
    Network {
        cidr: "192.0.2.128/26",
        country: "GB",
        asn: 64498,
        org: "Example Corp London",
        purpose: Purpose::Office,
    },
    Network {
        cidr: "192.0.2.192/26",
        country: "GB",
        asn: 64499,
        org: "Example Broadband UK",
        purpose: Purpose::Home,
    },
    Network {
        cidr: "198.51.100.0/26",
        country: "DE",
        asn: 64500,
        org: "Example Telekom DE",
        purpose: Purpose::Home,
    },
    Network {
        cidr: "198.51.100.64/26",
        country: "US",
        asn: 64501,
        org: "Example CI Runners",
        purpose: Purpose::Ci,
    },
    Network {
        cidr: "198.51.100.128/26",
        country: "IN",
        asn: 64502,
        org: "Example Net India",
        purpose: Purpose::Home,
    },
    Network {
        cidr: "198.51.100.192/26",
        country: "CA",
        asn: 64503,
        org: "Example Fibre Canada",
        purpose: Purpose::Home,
    },
    Network {
        cidr: "203.0.113.0/26",
        country: "NL",
        asn: 64504,
        org: "Example Hosting BV",
        purpose: Purpose::Hosting,
    },
    Network {
        cidr: "203.0.113.64/26",
        country: "RO",
        asn: 64505,
        org: "Example VPS SRL",
        purpose: Purpose::Hosting,
    },
    Network {
        cidr: "203.0.113.128/26",
        country: "BR",
        asn: 64506,
        org: "Example Telecom Brasil",
        purpose: Purpose::Foreign,
    },
    Network {
        cidr: "203.0.113.192/26",
        country: "SG",
        asn: 64507,
        org: "Example Cloud Asia",
        purpose: Purpose::Hosting,
    },
];

/// The index in [`NETWORKS`] of the network holding `ip`, when one does.
#[must_use]
pub fn lookup(ip: std::net::Ipv4Addr) -> Option<&'static Network> {
    let ip = u32::from(ip);
    NETWORKS.iter().find(|n| {
        let Some((base, len)) = n.cidr.split_once('/') else {
            return false;
        };
        let (Ok(base), Ok(len)) = (base.parse::<std::net::Ipv4Addr>(), len.parse::<u32>()) else {
            return false;
        };
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        ip & mask == u32::from(base) & mask
    })
}

/// Host `host` (1–62) of network `index`, as text.
pub(crate) fn host(index: usize, host: u32) -> String {
    let Some(network) = NETWORKS.get(index) else {
        return "192.0.2.1".to_owned();
    };
    let base = network
        .cidr
        .split_once('/')
        .map_or(network.cidr, |(b, _)| b);
    let base: std::net::Ipv4Addr = base
        .parse()
        .unwrap_or(std::net::Ipv4Addr::new(192, 0, 2, 0));
    std::net::Ipv4Addr::from(u32::from(base) + 1 + host % 62).to_string()
}

/// Indices of the networks with `purpose`.
pub(crate) fn with_purpose(purpose: Purpose) -> Vec<usize> {
    NETWORKS
        .iter()
        .enumerate()
        .filter(|(_, n)| n.purpose == purpose)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_fall_in_their_network() {
        for (i, n) in NETWORKS.iter().enumerate() {
            for h in [0, 1, 61, 62, 100] {
                let ip: std::net::Ipv4Addr = host(i, h).parse().unwrap();
                assert_eq!(lookup(ip).map(|x| x.cidr), Some(n.cidr));
            }
        }
        assert!(lookup(std::net::Ipv4Addr::new(10, 0, 0, 1)).is_none());
    }
}
