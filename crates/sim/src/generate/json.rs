//! Writing JSON text straight into a `String`, without building value trees: string escaping,
//! Okta's millisecond timestamps and numbers. This is what makes the generator fast.

use chrono::{DateTime, Datelike, Timelike, Utc};
use std::fmt::Write;

/// Appends `s` as a JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // No early exit: the loop vectorises, and almost every string needs no escaping.
    let needs_escape = s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// Appends the concatenation of `parts` as one JSON string literal.
pub fn string_parts(out: &mut String, parts: &[&str]) {
    out.push('"');
    for part in parts {
        let start = out.len();
        string(out, part);
        // Drop the quotes `string` put around this part.
        out.pop();
        out.remove(start);
    }
    out.push('"');
}

/// Appends a JSON string, or `null`.
pub fn opt_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.push_str("null"),
    }
}

/// Appends `"key":`; keys are plain identifiers that need no escaping.
pub fn key(out: &mut String, k: &str) {
    out.push('"');
    out.push_str(k);
    out.push_str("\":");
}

/// Appends an unsigned integer.
pub fn uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        out.push(*d as char);
    }
}

/// Appends a coordinate the way Okta writes them (shortest round-trip decimal, e.g. `-122.3933`).
pub fn coordinate(out: &mut String, value: f64) {
    let _ = write!(out, "{value}");
}

/// Appends `at` as a quoted RFC 3339 UTC timestamp with milliseconds: `"2024-08-13T15:58:20.353Z"`.
pub fn timestamp(out: &mut String, at: DateTime<Utc>) {
    let year = at.year().clamp(0, 9999) as u32;
    out.push('"');
    push_digits(out, year, 4);
    out.push('-');
    push_digits(out, at.month(), 2);
    out.push('-');
    push_digits(out, at.day(), 2);
    out.push('T');
    push_digits(out, at.hour(), 2);
    out.push(':');
    push_digits(out, at.minute(), 2);
    out.push(':');
    push_digits(out, at.second(), 2);
    out.push('.');
    push_digits(out, at.timestamp_subsec_millis().min(999), 3);
    out.push_str("Z\"");
}

fn push_digits(out: &mut String, value: u32, width: u32) {
    for i in (0..width).rev() {
        out.push((b'0' + (value / 10u32.pow(i) % 10) as u8) as char);
    }
}
