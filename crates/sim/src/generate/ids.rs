//! Okta-shaped identifiers from the generator's RNG: `00u…` object ids, uuids, request ids,
//! session ids and hashes.

use rand::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `prefix` + 17 base62 characters (Okta's 20-character object ids).
pub fn okta_id(rng: &mut impl Rng, prefix: &str) -> String {
    let mut s = String::with_capacity(20);
    s.push_str(prefix);
    push_base62(rng, &mut s, 20 - prefix.len());
    s
}

/// `n` random base62 characters appended to `out`.
pub fn push_base62(rng: &mut impl Rng, out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(BASE62[rng.random_range(0..62)] as char);
    }
}

/// A version-1-looking uuid (Okta's System Log uuids are time-based).
pub fn uuid(rng: &mut impl Rng) -> String {
    let a: u32 = rng.random();
    let b: u16 = rng.random();
    let c: u16 = rng.random::<u16>() & 0x0fff;
    let d: u16 = (rng.random::<u16>() & 0x3fff) | 0x8000;
    let e: u64 = rng.random::<u64>() & 0xffff_ffff_ffff;
    format!("{a:08x}-{b:04x}-1{c:03x}-{d:04x}-{e:012x}")
}

/// `n` random lowercase hex characters.
pub fn hex(rng: &mut impl Rng, n: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..n)
        .map(|_| HEX[rng.random_range(0..16)] as char)
        .collect()
}

/// A 27-character request id like `XkccyyMli2Uay2I93ZgRzQAAB0c`.
pub fn request_id(rng: &mut impl Rng) -> String {
    let mut s = String::with_capacity(27);
    push_base62(rng, &mut s, 22);
    s.push_str("AAB");
    push_base62(rng, &mut s, 2);
    s
}
