use std::net::IpAddr;
use std::path::Path;

use crate::net::{self, RangeTable};
use crate::{Error, Result};

/// ASN ranges from the ip-location-db CSV format `start_ip,end_ip,asn,org`, searchable by
/// address (binary search over sorted, non-overlapping ranges).
#[derive(Debug, Clone, Default)]
pub struct AsnRanges {
    /// Ranges with (AS number, organisation index).
    v4: RangeTable<u32, (u32, u32)>,
    v6: RangeTable<u128, (u32, u32)>,
    orgs: Vec<Box<str>>,
}

impl AsnRanges {
    /// Reads a CSV file.
    ///
    /// # Errors
    /// [`Error::Read`] when it cannot be read, [`Error::AsnCsv`] for a malformed line.
    pub fn open(path: &Path) -> Result<Self> {
        Self::parse_csv(&net::read_text(path)?)
    }

    /// Parses CSV text. Blank lines and a header line starting with `start` are skipped; the
    /// organisation may be quoted (`"Example, Inc."`).
    ///
    /// # Errors
    /// [`Error::AsnCsv`] for a line that is not `start_ip,end_ip,asn,org`.
    pub fn parse_csv(text: &str) -> Result<Self> {
        let mut ranges = AsnRanges::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with("start") || line.starts_with('#') {
                continue;
            }
            ranges.add_line(line).map_err(|message| Error::AsnCsv {
                line: index + 1,
                message,
            })?;
        }
        ranges.v4.sort();
        ranges.v6.sort();
        Ok(ranges)
    }

    /// Merges another set of ranges into this one.
    pub fn extend(&mut self, other: AsnRanges) {
        let base = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
        self.orgs.extend(other.orgs);
        let rebase = |(asn, org): (u32, u32)| (asn, org.saturating_add(base));
        self.v4.extend_map(other.v4, rebase);
        self.v6.extend_map(other.v6, rebase);
    }

    fn add_line(&mut self, line: &str) -> std::result::Result<(), String> {
        let mut parts = line.splitn(4, ',');
        let start = parts.next().unwrap_or_default().trim();
        let end = parts.next().ok_or("missing end_ip")?.trim();
        let asn = parts.next().ok_or("missing asn")?.trim();
        let org = parts.next().unwrap_or_default().trim();
        let org = org
            .strip_prefix('"')
            .and_then(|o| o.strip_suffix('"'))
            .unwrap_or(org);
        let org = org.replace("\"\"", "\"");
        let asn: u32 = asn
            .trim_start_matches("AS")
            .parse()
            .map_err(|_| format!("asn {asn:?} is not a number"))?;
        let start: IpAddr = start
            .parse()
            .map_err(|_| format!("start_ip {start:?} is not an address"))?;
        let end: IpAddr = end
            .parse()
            .map_err(|_| format!("end_ip {end:?} is not an address"))?;
        let org_index = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
        match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                self.v4.push(u32::from(s), u32::from(e), (asn, org_index));
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => {
                self.v6.push(u128::from(s), u128::from(e), (asn, org_index));
            }
            _ => return Err("start_ip and end_ip of different families".to_owned()),
        }
        self.orgs.push(org.into_boxed_str());
        Ok(())
    }

    /// How many ranges are loaded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when no range is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The AS number and organisation of an address.
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Option<(u32, &str)> {
        let (asn, org) = match net::canonical(ip) {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4))?,
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6))?,
        };
        Some((asn, self.orgs.get(org as usize).map_or("", |o| o)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_ranges() {
        let csv = "start_ip,end_ip,asn,org\n192.0.2.0,192.0.2.127,64496,\"Example, Inc.\"\n\
                   203.0.113.0,203.0.113.255,64500,Example VPN\n2001:db8::,2001:db8::ffff,64501,V6 Net\n";
        let r = AsnRanges::parse_csv(csv).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.lookup("192.0.2.5".parse().unwrap()),
            Some((64496, "Example, Inc."))
        );
        assert_eq!(r.lookup("192.0.2.200".parse().unwrap()), None);
        assert_eq!(
            r.lookup("203.0.113.255".parse().unwrap()),
            Some((64500, "Example VPN"))
        );
        assert_eq!(
            r.lookup("2001:db8::10".parse().unwrap()),
            Some((64501, "V6 Net"))
        );
        assert_eq!(r.lookup("198.51.100.1".parse().unwrap()), None);
    }

    #[test]
    fn rejects_bad_lines() {
        let err = AsnRanges::parse_csv("192.0.2.0,192.0.2.9,notanumber,x\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(AsnRanges::parse_csv("192.0.2.0,2001:db8::,1,x").is_err());
    }
}
