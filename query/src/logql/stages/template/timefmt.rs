//! Go `time` layouts (`2006-01-02T15:04:05.999999999Z07:00`) for the
//! template functions `date`, `toDate`, `toDateInZone` and time printing.
//! All times are UTC (the zone database is not consulted).

use std::fmt::Write as _;

/// A point in time: seconds since the Unix epoch plus nanoseconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct GoTime {
    pub(super) secs: i64,
    pub(super) nanos: u32,
}

impl GoTime {
    pub(super) fn from_unix_nanos(ns: i64) -> GoTime {
        GoTime {
            secs: ns.div_euclid(1_000_000_000),
            nanos: ns.rem_euclid(1_000_000_000) as u32,
        }
    }

    pub(super) fn now() -> GoTime {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => GoTime {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(_) => GoTime { secs: 0, nanos: 0 },
        }
    }

    /// Go's zero `time.Time` (0001-01-01 00:00:00 UTC).
    pub(super) fn zero() -> GoTime {
        GoTime {
            secs: days_from_civil(1, 1, 1) * 86_400,
            nanos: 0,
        }
    }

    pub(super) fn unix_millis(self) -> i64 {
        self.secs
            .wrapping_mul(1000)
            .wrapping_add(i64::from(self.nanos / 1_000_000))
    }

    pub(super) fn unix_nanos(self) -> i64 {
        self.secs
            .wrapping_mul(1_000_000_000)
            .wrapping_add(i64::from(self.nanos))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PmUpper,
    PmLower,
    Tz,
    /// Z-prefixed ISO 8601 offset; `Z` for UTC.
    IsoTz(&'static str),
    /// Numeric offset like `-0700`.
    NumTz(&'static str),
    /// `.000` (true) or `.999` (false) with the digit count.
    Frac(bool, usize),
}

/// Splits `layout` into (literal prefix, std chunk, chunk length).
fn next_chunk(layout: &str) -> (usize, Option<(Std, usize)>) {
    let b = layout.as_bytes();
    let starts = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let lower_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let hit = match b[i] {
            b'J' if starts(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if starts(i, "Jan") && !lower_at(i + 3) => Some((Std::Month, 3)),
            b'M' if starts(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if starts(i, "Mon") && !lower_at(i + 3) => Some((Std::WeekDay, 3)),
            b'M' if starts(i, "MST") => Some((Std::Tz, 3)),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][usize::from(b[i + 1] - b'1')],
                2,
            )),
            b'0' if starts(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if starts(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if starts(i, "_2006") => return (i + 1, Some((Std::LongYear, 4))),
            b'_' if starts(i, "_2") => Some((Std::UnderDay, 2)),
            b'_' if starts(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if starts(i, "PM") => Some((Std::PmUpper, 2)),
            b'p' if starts(i, "pm") => Some((Std::PmLower, 2)),
            b'-' | b'Z' => {
                const FORMS: [&str; 5] = ["070000", "07:00:00", "0700", "07:00", "07"];
                FORMS.iter().find(|f| starts(i + 1, f)).map(|f| {
                    (
                        if b[i] == b'Z' {
                            Std::IsoTz(f)
                        } else {
                            Std::NumTz(f)
                        },
                        f.len() + 1,
                    )
                })
            }
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while b.get(j) == Some(&ch) {
                    j += 1;
                }
                (!b.get(j).is_some_and(u8::is_ascii_digit))
                    .then_some((Std::Frac(ch == b'0', j - i - 1), j - i))
            }
            _ => None,
        };
        if hit.is_some() {
            return (i, hit);
        }
    }
    (b.len(), None)
}

struct Parts {
    year: i64,
    month: i64,
    day: i64,
    yday: i64,
    weekday: usize,
    hour: i64,
    min: i64,
    sec: i64,
    nanos: u32,
}

fn parts(t: GoTime) -> Parts {
    let days = t.secs.div_euclid(86_400);
    let sod = t.secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        yday: days - days_from_civil(year, 1, 1) + 1,
        weekday: (days + 4).rem_euclid(7) as usize,
        hour: sod / 3600,
        min: sod % 3600 / 60,
        sec: sod % 60,
        nanos: t.nanos,
    }
}

/// Formats `t` (UTC) with a Go layout.
pub(super) fn format(layout: &str, t: GoTime) -> String {
    let p = parts(t);
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        let (lit, chunk) = next_chunk(rest);
        out.push_str(&rest[..lit]);
        let Some((std, len)) = chunk else { break };
        let month = MONTHS[(p.month - 1).clamp(0, 11) as usize];
        let _ = match std {
            Std::LongMonth => write!(out, "{month}"),
            Std::Month => write!(out, "{}", &month[..3]),
            Std::NumMonth => write!(out, "{}", p.month),
            Std::ZeroMonth => write!(out, "{:02}", p.month),
            Std::LongWeekDay => write!(out, "{}", DAYS[p.weekday % 7]),
            Std::WeekDay => write!(out, "{}", &DAYS[p.weekday % 7][..3]),
            Std::Day => write!(out, "{}", p.day),
            Std::UnderDay => write!(out, "{:>2}", p.day),
            Std::ZeroDay => write!(out, "{:02}", p.day),
            Std::UnderYearDay => write!(out, "{:>3}", p.yday),
            Std::ZeroYearDay => write!(out, "{:03}", p.yday),
            Std::Hour => write!(out, "{:02}", p.hour),
            Std::Hour12 => write!(out, "{}", if p.hour % 12 == 0 { 12 } else { p.hour % 12 }),
            Std::ZeroHour12 => write!(
                out,
                "{:02}",
                if p.hour % 12 == 0 { 12 } else { p.hour % 12 }
            ),
            Std::Minute => write!(out, "{}", p.min),
            Std::ZeroMinute => write!(out, "{:02}", p.min),
            Std::Second => write!(out, "{}", p.sec),
            Std::ZeroSecond => write!(out, "{:02}", p.sec),
            Std::LongYear if p.year < 0 => write!(out, "-{:04}", -p.year),
            Std::LongYear => write!(out, "{:04}", p.year),
            Std::Year => write!(out, "{:02}", p.year.rem_euclid(100)),
            Std::PmUpper => write!(out, "{}", if p.hour >= 12 { "PM" } else { "AM" }),
            Std::PmLower => write!(out, "{}", if p.hour >= 12 { "pm" } else { "am" }),
            Std::Tz => write!(out, "UTC"),
            Std::IsoTz(_) => write!(out, "Z"),
            Std::NumTz(f) => write!(out, "+{}", f.replace('7', "0")),
            Std::Frac(zeros, n) => {
                let digits = format!("{:09}", p.nanos);
                let mut d = &digits[..n.min(9)];
                if !zeros {
                    d = d.trim_end_matches('0');
                }
                if d.is_empty() {
                    Ok(())
                } else {
                    write!(out, "{}{d}", &rest[lit..=lit])
                }
            }
        };
        rest = &rest[lit + len..];
    }
    out
}

/// Go's `Time.String()` for a UTC time.
pub(super) fn time_string(t: GoTime) -> String {
    format("2006-01-02 15:04:05.999999999 -0700 MST", t)
}

#[path = "timeparse.rs"]
mod parse;
pub(super) use parse::parse;
