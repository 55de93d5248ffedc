use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// A UTC instant with millisecond precision (milliseconds since the Unix epoch).
///
/// CloudTrail writes `eventTime` as `YYYY-MM-DDTHH:MM:SSZ`; parsing that shape is on the hot
/// path of every event, so it is done by hand here rather than through a general date library.
/// Offsets (`+02:00`) and fractions are accepted too; the result is always UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

impl Timestamp {
    /// The earliest representable instant.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant; `advance(Timestamp::MAX)` closes every window.
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// From seconds since the Unix epoch.
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(MS_PER_SECOND))
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (floor).
    #[must_use]
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(MS_PER_SECOND)
    }

    /// This instant plus `ms` milliseconds, saturating.
    #[must_use]
    pub const fn add_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant plus `secs` seconds, saturating.
    #[must_use]
    pub const fn add_secs(self, secs: i64) -> Self {
        self.add_millis(secs.saturating_mul(MS_PER_SECOND))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    #[must_use]
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The start of the minute containing this instant.
    #[must_use]
    pub const fn floor_minute(self) -> Self {
        Timestamp(self.0 - self.0.rem_euclid(MS_PER_MINUTE))
    }

    /// The start of the UTC day containing this instant.
    #[must_use]
    pub const fn floor_day(self) -> Self {
        Timestamp(self.0 - self.0.rem_euclid(MS_PER_DAY))
    }

    /// Days since the Unix epoch (floor).
    #[must_use]
    pub const fn day_number(self) -> i64 {
        self.0.div_euclid(MS_PER_DAY)
    }

    /// The UTC calendar parts: (year, month 1-12, day 1-31, hour, minute, second, millisecond).
    #[must_use]
    pub fn parts(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let hour = (ms_of_day / MS_PER_HOUR) as u32;
        let minute = ((ms_of_day % MS_PER_HOUR) / MS_PER_MINUTE) as u32;
        let second = ((ms_of_day % MS_PER_MINUTE) / MS_PER_SECOND) as u32;
        let milli = (ms_of_day % MS_PER_SECOND) as u32;
        (year, month, day, hour, minute, second, milli)
    }

    /// Day of the week, 0 = Monday … 6 = Sunday.
    #[must_use]
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        ((self.day_number() + 3).rem_euclid(7)) as u32
    }

    /// From UTC calendar parts. Returns `None` when a part is out of range.
    #[must_use]
    pub fn from_parts(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let ms = days
            .checked_mul(MS_PER_DAY)?
            .checked_add(i64::from(hour) * MS_PER_HOUR)?
            .checked_add(i64::from(minute) * MS_PER_MINUTE)?
            .checked_add(i64::from(second) * MS_PER_SECOND)?;
        Some(Timestamp(ms))
    }

    /// Parses RFC 3339 (`2026-01-02T03:04:05Z`, `2026-01-02T03:04:05.123+02:00`), and a bare
    /// date (`2026-01-02`, midnight UTC).
    ///
    /// # Errors
    /// [`Error::Time`] when the text is not of that shape or a part is out of range.
    pub fn parse(text: &str) -> Result<Self> {
        parse_rfc3339(text.as_bytes()).ok_or_else(|| Error::Time {
            text: text.chars().take(64).collect(),
        })
    }
}

fn digits(bytes: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    let mut value = 0u32;
    for &b in bytes.get(range)? {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

fn parse_rfc3339(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i64::from(digits(b, 0..4)?);
    let month = digits(b, 5..7)?;
    let day = digits(b, 8..10)?;
    if b.len() == 10 {
        return Timestamp::from_parts(year, month, day, 0, 0, 0);
    }
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let hour = digits(b, 11..13)?;
    let minute = digits(b, 14..16)?;
    let second = digits(b, 17..19)?;
    let mut ts = Timestamp::from_parts(year, month, day, hour, minute, second.min(59))?;
    let mut rest = &b[19..];
    if let Some((&b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut ms = 0i64;
        for (i, &c) in frac[..n].iter().take(3).enumerate() {
            ms += i64::from(c - b'0') * [100, 10, 1][i];
        }
        ts = ts.add_millis(ms);
        rest = &frac[n..];
    }
    match rest {
        b"Z" | b"z" | b"" => Some(ts),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hh = digits(&[*h1, *h2], 0..2)?;
            let mm = digits(&[*m1, *m2], 0..2)?;
            let offset = i64::from(hh) * MS_PER_HOUR + i64::from(mm) * MS_PER_MINUTE;
            Some(if *sign == b'+' {
                ts.add_millis(-offset)
            } else {
                ts.add_millis(offset)
            })
        }
        _ => None,
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, ms) = self.parts();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_cloudtrail_shape() {
        let ts = Timestamp::parse("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(ts.to_string(), "2026-01-02T03:04:05Z");
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z").unwrap(),
            Timestamp::EPOCH
        );
        assert_eq!(
            Timestamp::parse("2026-01-02T05:04:05.5+02:00")
                .unwrap()
                .to_string(),
            "2026-01-02T03:04:05.500Z"
        );
        assert_eq!(
            Timestamp::parse("2024-02-29").unwrap().to_string(),
            "2024-02-29T00:00:00Z"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30T00:00:00Z",
            "2026-01-01T25:00:00Z",
            "x",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekday_known() {
        // 2026-11-23 is a Monday.
        assert_eq!(Timestamp::parse("2026-11-23").unwrap().weekday(), 0);
    }

    proptest! {
        #[test]
        fn display_round_trips(ms in -62_000_000_000_000i64..250_000_000_000_000i64) {
            let ts = Timestamp::from_millis(ms);
            prop_assert_eq!(Timestamp::parse(&ts.to_string()).unwrap(), ts);
        }
    }
}
