//! Durations in request parameters: Go's `time.ParseDuration` form (`250ms`, `1.5s`,
//! `1h30m`), as the Jaeger and Tempo APIs take them, optionally with Prometheus's `d`, `w`
//! and `y`.

/// Which units a duration may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Units {
    /// Go's: `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    Go,
    /// Go's and Prometheus's `d`, `w`, `y` (365 days).
    WithDays,
}

/// Nanoseconds of a duration: `0`, or one or more `<number><unit>`, decimals allowed
/// (`1.5s`, `1m30s`); an error naming the text otherwise, or when it overflows `i64`.
pub(crate) fn duration_ns(text: &str, units: Units) -> Result<i64, String> {
    let bad = || format!("invalid duration {text:?}: use e.g. 250ms, 1.5s, 1m30s");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match (&rest[..unit_len], units) {
            ("ns", _) => 1.0,
            ("us" | "µs", _) => 1e3,
            ("ms", _) => 1e6,
            ("s", _) => 1e9,
            ("m", _) => 60e9,
            ("h", _) => 3_600e9,
            ("d", Units::WithDays) => 86_400e9,
            ("w", Units::WithDays) => 7.0 * 86_400e9,
            ("y", Units::WithDays) => 365.0 * 86_400e9,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total >= i64::MAX as f64 {
        return Err(bad());
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::{Units, duration_ns};

    #[test]
    fn go_units_and_days() {
        assert_eq!(duration_ns("1.5ms", Units::Go), Ok(1_500_000));
        assert_eq!(duration_ns("1m30s", Units::Go), Ok(90_000_000_000));
        assert_eq!(duration_ns("250µs", Units::Go), Ok(250_000));
        assert_eq!(duration_ns(" 0 ", Units::Go), Ok(0));
        assert!(duration_ns("1d", Units::Go).is_err());
        assert_eq!(duration_ns("1d", Units::WithDays), Ok(86_400_000_000_000));
        assert_eq!(
            duration_ns("1w1d", Units::WithDays),
            Ok(8 * 86_400_000_000_000)
        );
        for bad in ["", "5", "ms", "1.2.3s", "1x", "-1s", "300y"] {
            assert!(duration_ns(bad, Units::WithDays).is_err(), "{bad}");
        }
    }
}
