//! Sample values and timestamps as Prometheus reads them: Go's `strconv.ParseFloat` without
//! the hexadecimal and underscore forms (Prometheus refuses `p`, `P` and `_`), and the two
//! timestamp forms (text: integer milliseconds; OpenMetrics: float seconds).

use super::quote;

/// The bits of Prometheus's canonical NaN (`value.NormalNaN`): every parsed NaN gets them,
/// so that no value read from a body can be mistaken for the staleness marker
/// (`0x7ff0000000000002`).
pub(crate) const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// A float as Go's `ParseFloat(s, 64)` reads it: decimal with an optional sign, fraction and
/// exponent (`1`, `-2.5`, `.5`, `5.`, `1e-3`, `+1E+06`), `Inf` / `Infinity` with an optional
/// sign and `NaN` without one, both in any case. A decimal beyond ±`f64::MAX` is an error
/// (Go's `ErrRange`); one too small to represent is 0.
pub(crate) fn float(tok: &[u8]) -> Result<f64, String> {
    let invalid = || format!("invalid value {}", quote(tok));
    let (negative, unsigned) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    let signed = unsigned.len() != tok.len();
    match unsigned.first() {
        Some(b'i' | b'I') => {
            if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
                return Ok(if negative {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                });
            }
            return Err(invalid());
        }
        Some(b'n' | b'N') if !signed && unsigned.eq_ignore_ascii_case(b"nan") => {
            return Ok(f64::from_bits(NORMAL_NAN_BITS));
        }
        _ => {}
    }
    if !is_decimal(unsigned) {
        return Err(invalid());
    }
    // `is_decimal` admits only ASCII, so this is text; `str::parse` rounds correctly.
    let v: f64 = std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(invalid)?;
    if v.is_infinite() {
        return Err(format!("value {} out of range", quote(tok)));
    }
    Ok(v)
}

/// `digits [. digits] [(e|E) [+|-] digits]` with at least one mantissa digit.
fn is_decimal(s: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if s.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == s.len()
}

/// A text-format timestamp: base-10 integer milliseconds, optionally negative.
pub(crate) fn text_timestamp(tok: &[u8]) -> Result<i64, String> {
    let digits = tok.strip_prefix(b"-").unwrap_or(tok);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!("invalid timestamp {}", quote(tok)));
    }
    std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("timestamp {} out of range", quote(tok)))
}

/// An OpenMetrics timestamp: float seconds, to milliseconds as Prometheus converts them
/// (`int64(seconds * 1000)`: toward zero; beyond the `i64` range it saturates). NaN and
/// infinities are errors.
pub(crate) fn om_timestamp(tok: &[u8]) -> Result<i64, String> {
    let seconds = float(tok).map_err(|_| format!("invalid timestamp {}", quote(tok)))?;
    if !seconds.is_finite() {
        return Err(format!("invalid timestamp {}", quote(tok)));
    }
    Ok((seconds * 1000.0) as i64)
}
