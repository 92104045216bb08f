//! One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238), 6 digits, HMAC-SHA-1 as hardware
//! and mobile OTP tokens use, computed with aws-lc-rs.
//!
//! Verification takes the last counter or time step already used and only accepts a code for a
//! *later* one, so a code cannot be replayed; the caller stores the returned step with a
//! conditional update (`… WHERE last_step < new`) so two nodes cannot both accept it.

use aws_lc_rs::{constant_time, hmac};
use chrono::{DateTime, Utc};

/// Digits in every code.
pub const DIGITS: u32 = 6;
/// TOTP time step.
pub const STEP_SECS: i64 = 30;

/// HOTP value for `counter` (RFC 4226 §5.3: HMAC-SHA-1, dynamic truncation).
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u32::from(mac[offset]) & 0x7f) << 24
        | u32::from(mac[offset + 1]) << 16
        | u32::from(mac[offset + 2]) << 8
        | u32::from(mac[offset + 3]);
    binary % 10u32.pow(DIGITS)
}

/// The TOTP time step containing `at` (RFC 6238, T0 = 0).
pub fn totp_step(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp().div_euclid(STEP_SECS)).unwrap_or(0)
}

/// A code as the user typed it: exactly six ASCII digits.
pub fn parse_code(raw: &str) -> Option<u32> {
    (raw.len() == DIGITS as usize && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.parse().ok())
        .flatten()
}

fn same(a: u32, b: u32) -> bool {
    constant_time::verify_slices_are_equal(&a.to_be_bytes(), &b.to_be_bytes()).is_ok()
}

/// Checks an HOTP code against counters `last_used + 1 ..= last_used + look_ahead`; returns the
/// matching counter (to store as the new `last_used`).
pub fn verify_hotp(
    secret: &[u8],
    code: u32,
    last_used: Option<u64>,
    look_ahead: u64,
) -> Option<u64> {
    let first = last_used.map_or(0, |c| c + 1);
    let mut found = None;
    // Every candidate is computed, so timing does not tell which one matched.
    for counter in first..first.saturating_add(look_ahead) {
        if same(hotp(secret, counter), code) && found.is_none() {
            found = Some(counter);
        }
    }
    found
}

/// Checks a TOTP code within ±`drift` steps of `now`, accepting only steps after `last_used`;
/// returns the matching step (to store as the new `last_used`).
pub fn verify_totp(
    secret: &[u8],
    code: u32,
    now: DateTime<Utc>,
    drift: u64,
    last_used: Option<u64>,
) -> Option<u64> {
    let current = totp_step(now);
    let mut found = None;
    for step in current.saturating_sub(drift)..=current.saturating_add(drift) {
        let fresh = last_used.is_none_or(|used| step > used);
        if same(hotp(secret, step), code) && fresh && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 4226 appendix D.
    #[test]
    fn hotp_matches_rfc_4226_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64), *code, "counter {counter}");
        }
    }

    /// RFC 6238 appendix B (SHA-1), last six of the eight-digit values.
    #[test]
    fn totp_matches_rfc_6238_vectors() {
        for (t, eight) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
        ] {
            let at = DateTime::from_timestamp(t, 0).unwrap();
            assert_eq!(
                hotp(RFC_SECRET, totp_step(at)),
                eight % 1_000_000,
                "t = {t}"
            );
        }
    }

    #[test]
    fn hotp_looks_ahead_and_refuses_replays() {
        assert_eq!(verify_hotp(RFC_SECRET, 359152, None, 5), Some(2));
        assert_eq!(
            verify_hotp(RFC_SECRET, 359152, Some(2), 5),
            None,
            "counter 2 is used"
        );
        assert_eq!(
            verify_hotp(RFC_SECRET, 520489, Some(2), 5),
            None,
            "counter 9 is beyond the window"
        );
        assert_eq!(verify_hotp(RFC_SECRET, 520489, Some(4), 5), Some(9));
    }

    #[test]
    fn totp_allows_drift_and_refuses_replays() {
        let at = DateTime::from_timestamp(1111111111, 0).unwrap();
        let step = totp_step(at);
        let prev = hotp(RFC_SECRET, step - 1);
        assert_eq!(
            verify_totp(RFC_SECRET, prev, at, 1, None),
            Some(step - 1),
            "one step of drift"
        );
        assert_eq!(
            verify_totp(RFC_SECRET, prev, at, 0, None),
            None,
            "no drift allowed"
        );
        assert_eq!(
            verify_totp(RFC_SECRET, prev, at, 1, Some(step - 1)),
            None,
            "used once"
        );
        let two_back = hotp(RFC_SECRET, step - 2);
        assert_eq!(
            verify_totp(RFC_SECRET, two_back, at, 1, None),
            None,
            "outside the window"
        );
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(parse_code("012345"), Some(12345));
        for bad in ["12345", "1234567", "12a456", " 12345", "+12345"] {
            assert_eq!(parse_code(bad), None, "{bad}");
        }
    }
}
