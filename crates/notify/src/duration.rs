//! Durations in the configuration, written the way people write them: `250ms`, `10s`, `15m`,
//! `2h`, `1d`.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// A duration parsed from `250ms`, `10s`, `15m`, `2h` or `1d`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl fmt::Debug for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(86_400_000) && ms > 0 {
            write!(f, "{}d", ms / 86_400_000)
        } else if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Parses `250ms`, `10s`, `15m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("`{text}` is not a duration: write a number and a unit, e.g. \"250ms\", \"10s\", \"15m\", \"2h\"")
    })?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    };
    ms.map(Duration::from_millis).ok_or_else(|| {
        format!("`{text}` is not a duration: units are ms, s, m, h, d, e.g. \"15m\"")
    })
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(ConfigDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for ConfigDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_prints_back() {
        for (text, ms) in [
            ("250ms", 250),
            ("10s", 10_000),
            ("15m", 900_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(d, Duration::from_millis(ms));
            assert_eq!(ConfigDuration(d).to_string(), text);
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration_with_an_example() {
        for bad in ["", "15", "m", "15 minutes", "1.5s", "-1s"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("e.g."), "{bad}: {err}");
        }
    }
}
