//! Okta-shaped identifiers drawn from the caller's RNG: 20-character object ids (`00u…`, `0oa…`),
//! `idx…` session ids, time-based (version 1) event uuids, request ids that start with the
//! request's time like Okta's, and hex hashes. Never the clock, never a global RNG.

use chrono::{DateTime, Utc};
use rand::Rng;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Okta request ids are base64 with `@` and `-` for the last two digits.
const REQUEST_ID_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@-";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `prefix` followed by base62 characters up to Okta's 20-character object id.
pub fn okta_id(rng: &mut impl Rng, prefix: &str) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix);
    push_base62(rng, &mut id, 20usize.saturating_sub(prefix.len()));
    id
}

/// Appends `n` uniformly random base62 characters.
pub fn push_base62(rng: &mut impl Rng, out: &mut String, n: usize) {
    let mut left = n;
    while left > 0 {
        let mut bits = rng.next_u64();
        for _ in 0..10 {
            let six = (bits & 63) as usize;
            bits >>= 6;
            if six < 62 {
                out.push(BASE62[six] as char);
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
    }
}

/// An Identity Engine session id: `idx` + 22 base62 characters.
pub fn session_id(rng: &mut impl Rng) -> String {
    let mut id = String::with_capacity(25);
    id.push_str("idx");
    push_base62(rng, &mut id, 22);
    id
}

/// `n` random lowercase hex digits.
pub fn hex(rng: &mut impl Rng, n: usize) -> String {
    let mut s = String::with_capacity(n);
    push_hex(rng, &mut s, n);
    s
}

fn push_hex(rng: &mut impl Rng, out: &mut String, n: usize) {
    let mut left = n;
    while left > 0 {
        let mut bits = rng.next_u64();
        for _ in 0..16.min(left) {
            out.push(HEX[(bits & 15) as usize] as char);
            bits >>= 4;
            left -= 1;
        }
    }
}

/// Appends a version-1 uuid for an event published at `at`, like Okta's (`dc9fd3c0-598c-11ef-…`):
/// the time fields hold `at` (plus a random sub-millisecond part), clock sequence and node are
/// random, so uuids are unique however many events share a millisecond.
pub fn push_uuid(rng: &mut impl Rng, at: DateTime<Utc>, out: &mut String) {
    /// 100 ns intervals between 1582-10-15 and 1970-01-01.
    const GREGORIAN_OFFSET: u64 = 0x01B2_1DD2_1381_4000;
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let ticks = GREGORIAN_OFFSET
        .wrapping_add(millis.wrapping_mul(10_000))
        .wrapping_add(rng.random_range(0..10_000));
    let random = rng.next_u64();
    let clock_seq = ((random >> 48) & 0x3fff) | 0x8000;
    let node = random & 0xffff_ffff_ffff;
    push_hex_u64(out, ticks & 0xffff_ffff, 8);
    out.push('-');
    push_hex_u64(out, (ticks >> 32) & 0xffff, 4);
    out.push('-');
    push_hex_u64(out, ((ticks >> 48) & 0x0fff) | 0x1000, 4);
    out.push('-');
    push_hex_u64(out, clock_seq, 4);
    out.push('-');
    push_hex_u64(out, node, 12);
}

/// A version-1 uuid for an event published at `at` (see [`push_uuid`]).
pub fn uuid(rng: &mut impl Rng, at: DateTime<Utc>) -> String {
    let mut s = String::with_capacity(36);
    push_uuid(rng, at, &mut s);
    s
}

fn push_hex_u64(out: &mut String, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (4 * i)) & 15) as usize] as char);
    }
}

/// A 27-character request id like Okta's `XkccyyMli2Uay2I93ZgRzQAAB0c`: 20 bytes (the request's
/// Unix seconds, 12 random bytes, a small per-server counter) in Okta's base64 alphabet. It is
/// also the `transaction.id` of the events the request caused.
pub fn request_id(rng: &mut impl Rng, at: DateTime<Utc>) -> String {
    let mut id = String::with_capacity(28);
    push_request_id(rng, at, &mut id);
    id
}

/// Appends a request id (see [`request_id`]; the same draws, the same text).
pub fn push_request_id(rng: &mut impl Rng, at: DateTime<Utc>, out: &mut String) {
    let mut bytes = [0u8; 21];
    let seconds = u32::try_from(at.timestamp()).unwrap_or(0);
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    rng.fill_bytes(&mut bytes[4..16]);
    let counter: u16 = rng.random_range(0..0x1000);
    bytes[18..20].copy_from_slice(&counter.to_be_bytes());
    let mut written = 0;
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            if written < 27 {
                out.push(REQUEST_ID_ALPHABET[((n >> shift) & 63) as usize] as char);
                written += 1;
            }
        }
    }
}

/// Appends a job id (see [`job_id`]; the same draws, the same text).
pub fn push_job_id(rng: &mut impl Rng, out: &mut String) {
    const LOWER36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut len = 0;
    while len < 32 {
        let mut bits = rng.next_u64();
        for _ in 0..10 {
            let six = (bits & 63) as usize;
            bits >>= 6;
            if six < 36 && len < 32 {
                out.push(LOWER36[six] as char);
                len += 1;
            }
        }
    }
}

/// A 32-character lowercase alphanumeric id, as Okta gives background jobs.
pub fn job_id(rng: &mut impl Rng) -> String {
    let mut id = String::with_capacity(32);
    push_job_id(rng, &mut id);
    id
}
