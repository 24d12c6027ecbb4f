//! String, encoding and time helpers behind the template functions
//! (Loki's rune-safe `trunc`/`substring`/`alignLeft`/`alignRight`, Go's
//! `url.QueryEscape`/`QueryUnescape`, base64, `strings.Title`, ...).

use super::{GoTime, MAX_STRING};

pub(super) fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut m: Box<dyn Iterator<Item = char>> = if upper {
                Box::new(c.to_uppercase())
            } else {
                Box::new(c.to_lowercase())
            };
            match (m.next(), m.next()) {
                (Some(x), None) => x,
                _ => c,
            }
        })
        .collect()
}

pub(super) fn title(s: &str) -> String {
    let sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if sep(prev) {
                map_case(&c.to_string(), true).chars().next().unwrap_or(c)
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

pub(super) fn runes_slice(s: &str, start: usize, end: usize) -> String {
    s.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

pub(super) fn trunc(c: i64, s: &str) -> String {
    let l = s.chars().count() as i64;
    if c < 0 && l + c > 0 {
        runes_slice(s, (l + c) as usize, l as usize)
    } else if c >= 0 && l > c {
        runes_slice(s, 0, c as usize)
    } else {
        s.to_string()
    }
}

pub(super) fn substring(start: i64, end: i64, s: &str) -> String {
    let l = s.chars().count() as i64;
    let (start, end) = (start.min(l), end.min(l));
    if start < 0 {
        return if end < 0 {
            String::new()
        } else {
            runes_slice(s, 0, end as usize)
        };
    }
    if end < 0 {
        return runes_slice(s, start as usize, l as usize);
    }
    if start > end {
        String::new()
    } else {
        runes_slice(s, start as usize, end as usize)
    }
}

pub(super) fn align(count: i64, src: &str, left: bool) -> String {
    let l = src.chars().count() as i64;
    if count < 0 || count == l {
        return src.to_string();
    }
    if count > l {
        let pad = " ".repeat((count - l).min(MAX_STRING as i64) as usize);
        return if left {
            format!("{src}{pad}")
        } else {
            format!("{pad}{src}")
        };
    }
    if left {
        runes_slice(src, 0, count as usize)
    } else {
        runes_slice(src, (l - count) as usize, l as usize)
    }
}

pub(super) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(super) fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let Some(h) = hex else {
                    let bad = s.get(i..(i + 3).min(s.len())).unwrap_or("%");
                    return Err(format!("invalid URL escape {bad:?}"));
                };
                out.push(
                    u8::from_str_radix(std::str::from_utf8(h).unwrap_or("00"), 16).unwrap_or(0),
                );
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn b64enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len().div_ceil(3) * 4);
    for chunk in s.as_bytes().chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(B64[(v >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Loki's `b64dec`: pads missing `=`, returns Go's error text on bad input.
pub(super) fn b64dec(s: &str) -> String {
    let mut v = s.to_string();
    let rem = v.len() % 4;
    if rem == 2 || rem == 3 {
        v.push_str(&"=".repeat(4 - rem));
    }
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    let mut pad_at: Option<usize> = None;
    let bytes: Vec<(usize, u8)> = v
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b != b'\r' && *b != b'\n')
        .collect();
    for (k, &(i, b)) in bytes.iter().enumerate() {
        if b == b'=' {
            // Padding is only valid in the last quantum, at positions 2 or 3.
            if pad_at.is_none()
                && (k % 4 < 2 || !bytes.len().is_multiple_of(4) || k + 4 - k % 4 != bytes.len())
            {
                return format!("illegal base64 data at input byte {i}");
            }
            pad_at.get_or_insert(i);
            continue;
        }
        let Some(d) = B64.iter().position(|&c| c == b) else {
            return format!("illegal base64 data at input byte {i}");
        };
        if pad_at.is_some() {
            return format!("illegal base64 data at input byte {i}");
        }
        acc = acc << 6 | d as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xFF) as u8);
        }
    }
    if pad_at.is_none() && !bytes.len().is_multiple_of(4) {
        return format!("illegal base64 data at input byte {}", bytes.len() / 4 * 4);
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn unix_to_time(epoch: &str) -> Result<GoTime, String> {
    let err = || format!("unable to parse time '{epoch}'");
    let i: i64 = epoch.parse().map_err(|_| err())?;
    let ns = |v: i64| Ok(GoTime::from_unix_nanos(v));
    match epoch.len() {
        5 => Ok(GoTime {
            secs: i.saturating_mul(86_400),
            nanos: 0,
        }),
        10 => Ok(GoTime { secs: i, nanos: 0 }),
        13 => ns(i.saturating_mul(1_000_000)),
        16 => ns(i.saturating_mul(1_000)),
        19 => ns(i),
        _ => Err(err()),
    }
}
