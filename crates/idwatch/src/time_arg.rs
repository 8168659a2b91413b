//! Time arguments: RFC 3339 (`2024-08-13T15:58:20Z`), a date (`2024-08-13`, midnight UTC), or a
//! duration before now (`90d`, `12h`, `30m`, `45s`, `2w`).

use chrono::{DateTime, NaiveDate, Utc};

/// Parses a time argument relative to `now`.
pub fn parse_time_arg(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Some(d) = parse_duration(text) {
        return now
            .checked_sub_signed(d)
            .ok_or_else(|| format!("`{text}` before now is out of the range of dates"));
    }
    if let Some(t) = okta::event::parse_time(text) {
        return Ok(t);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = date.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "`{text}` is not a time: use RFC 3339 (2024-08-13T15:58:20Z), a date (2024-08-13) or a duration before now (90d, 12h, 30m)"
    ))
}

/// Parses `90d`, `12h`, `30m`, `45s`, `2w`.
pub fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok()?;
    match unit {
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_absolute_and_dates() {
        let now = parse_time_arg("2024-08-13T12:00:00Z", Utc::now()).unwrap();
        assert_eq!(
            parse_time_arg("90d", now).unwrap(),
            now - chrono::Duration::days(90)
        );
        assert_eq!(
            parse_time_arg("12h", now).unwrap().to_rfc3339(),
            "2024-08-13T00:00:00+00:00"
        );
        assert_eq!(
            parse_time_arg("2024-08-01", now).unwrap().to_rfc3339(),
            "2024-08-01T00:00:00+00:00"
        );
        let err = parse_time_arg("yesterday", now).unwrap_err();
        assert!(err.contains("`yesterday` is not a time"));
        let err = parse_time_arg("200000000d", now).unwrap_err();
        assert!(err.contains("out of the range of dates"), "{err}");
    }
}
