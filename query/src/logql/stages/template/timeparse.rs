//! Go's `time.Parse` for the supported layout elements.

use super::{DAYS, GoTime, MONTHS, Std, days_from_civil, days_in_month, next_chunk};

fn getnum(v: &str, max_digits: usize, fixed: bool) -> Option<(i64, &str)> {
    let n = v
        .bytes()
        .take(max_digits)
        .take_while(u8::is_ascii_digit)
        .count();
    if n == 0 || (fixed && n != max_digits) {
        return None;
    }
    Some((v[..n].parse().ok()?, &v[n..]))
}

fn lookup_name<'a>(v: &'a str, names: &[&str], abbrev: bool) -> Option<(usize, &'a str)> {
    names.iter().enumerate().find_map(|(i, n)| {
        let n = if abbrev { &n[..3] } else { n };
        v.get(..n.len())
            .filter(|p| p.eq_ignore_ascii_case(n))
            .map(|_| (i, &v[n.len()..]))
    })
}

/// Matches a literal layout prefix; runs of spaces match runs of spaces.
fn skip<'a>(mut v: &'a str, mut lit: &str) -> Option<&'a str> {
    while let Some(c) = lit.chars().next() {
        if c == ' ' {
            if !v.is_empty() && !v.starts_with(' ') {
                return None;
            }
            lit = lit.trim_start_matches(' ');
            v = v.trim_start_matches(' ');
            continue;
        }
        v = v.strip_prefix(c)?;
        lit = &lit[c.len_utf8()..];
    }
    Some(v)
}

fn parse_frac(v: &str, n: usize) -> Option<u32> {
    let digits = v.get(1..n)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scaled = format!("{:0<9}", &digits[..digits.len().min(9)]);
    scaled.parse().ok()
}

/// Parses a numeric offset for `form` (`07`, `0700`, `07:00`, `070000`,
/// `07:00:00`, without the sign) into seconds east of UTC.
fn parse_offset<'a>(v: &'a str, form: &str) -> Option<(i64, &'a str)> {
    let sign = match v.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let colon = form.contains(':');
    let (h, mut rest) = getnum(&v[1..], 2, true)?;
    let mut secs = h * 3600;
    for unit in [60, 1].iter().take(form.matches("00").count()) {
        if colon {
            rest = rest.strip_prefix(':')?;
        }
        let (n, r) = getnum(rest, 2, true)?;
        secs += n * unit;
        rest = r;
    }
    Some((sign * secs, rest))
}

/// Parses `value` with a Go layout (Go's `time.Parse`), UTC unless the value
/// carries a numeric offset. `None` when the value does not match.
pub(crate) fn parse(layout: &str, value: &str) -> Option<GoTime> {
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nanos, mut offset) = (0i64, 0i64, 0i64, 0u32, 0i64);
    let (mut pm, mut am) = (false, false);
    let mut rest = layout;
    let mut v = value;
    while !rest.is_empty() {
        let (lit, chunk) = next_chunk(rest);
        v = skip(v, &rest[..lit])?;
        let Some((std, len)) = chunk else { break };
        let next_rest = &rest[lit + len..];
        match std {
            Std::Year => {
                let (y, r) = getnum(v, 2, true)?;
                year = if y >= 69 { y + 1900 } else { y + 2000 };
                v = r;
            }
            Std::LongYear => {
                let (y, r) = getnum(v, 4, true)?;
                year = y;
                v = r;
            }
            Std::Month | Std::LongMonth => {
                let (m, r) = lookup_name(v, &MONTHS, std == Std::Month)?;
                month = m as i64 + 1;
                v = r;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, r) = getnum(v, 2, std == Std::ZeroMonth)?;
                month = m;
                v = r;
            }
            Std::WeekDay | Std::LongWeekDay => v = lookup_name(v, &DAYS, std == Std::WeekDay)?.1,
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay {
                    v = v.strip_prefix(' ').unwrap_or(v);
                }
                let (d, r) = getnum(v, 2, std == Std::ZeroDay)?;
                day = d;
                v = r;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                let trimmed = if std == Std::UnderYearDay {
                    v.trim_start_matches(' ')
                } else {
                    v
                };
                let (d, r) = getnum(trimmed, 3, std == Std::ZeroYearDay)?;
                yday = d;
                v = r;
            }
            Std::Hour => (hour, v) = getnum(v, 2, false)?,
            Std::Hour12 | Std::ZeroHour12 => (hour, v) = getnum(v, 2, std == Std::ZeroHour12)?,
            Std::Minute | Std::ZeroMinute => (min, v) = getnum(v, 2, std == Std::ZeroMinute)?,
            Std::Second | Std::ZeroSecond => {
                (sec, v) = getnum(v, 2, std == Std::ZeroSecond)?;
                // A fraction after seconds is accepted even if the layout has none.
                let frac_next = matches!(next_chunk(next_rest), (0, Some((Std::Frac(..), _))));
                if v.len() >= 2
                    && matches!(v.as_bytes()[0], b'.' | b',')
                    && v.as_bytes()[1].is_ascii_digit()
                    && !frac_next
                {
                    let n = 1 + v[1..].bytes().take_while(u8::is_ascii_digit).count();
                    nanos = parse_frac(v, n)?;
                    v = &v[n..];
                }
            }
            Std::PmUpper | Std::PmLower => {
                let p = v.get(..2)?;
                let (pm_s, am_s) = if std == Std::PmUpper {
                    ("PM", "AM")
                } else {
                    ("pm", "am")
                };
                pm = p == pm_s;
                am = p == am_s;
                if !pm && !am {
                    return None;
                }
                v = &v[2..];
            }
            Std::IsoTz(_) if v.starts_with('Z') => v = &v[1..],
            Std::IsoTz(f) | Std::NumTz(f) => (offset, v) = parse_offset(v, f)?,
            Std::Tz => {
                let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                if !(3..=5).contains(&n) {
                    return None;
                }
                v = &v[n..];
            }
            Std::Frac(zeros, n) => {
                if zeros {
                    if !matches!(v.as_bytes().first(), Some(b'.' | b',')) {
                        return None;
                    }
                    nanos = parse_frac(v, n + 1)?;
                    v = &v[n + 1..];
                } else if v.len() >= 2
                    && matches!(v.as_bytes()[0], b'.' | b',')
                    && v.as_bytes()[1].is_ascii_digit()
                {
                    let k = 1 + v[1..]
                        .bytes()
                        .take(9)
                        .take_while(u8::is_ascii_digit)
                        .count();
                    nanos = parse_frac(v, k)?;
                    v = &v[k..];
                }
            }
        }
        rest = next_rest;
    }
    if !v.is_empty() || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 && month < 0 {
        let mut m = 1;
        let mut d = yday;
        while m < 12 && d > days_in_month(year, m) {
            d -= days_in_month(year, m);
            m += 1;
        }
        (month, day) = (m, d);
    }
    let month = if month < 0 { 1 } else { month };
    let day = if day < 0 { 1 } else { day };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(GoTime { secs, nanos })
}
