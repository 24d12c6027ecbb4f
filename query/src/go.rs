//! Go's text forms where Strata must print as Prometheus and Loki do.

use std::fmt::Write;

/// Go's `strconv.Quote` (and `%q`): a double-quoted string with Go's escapes for
/// control characters, as Prometheus's and Loki's messages and LogQL's `printf` print it.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let u = c as u32;
                let _ = if u > 0xFFFF {
                    write!(out, "\\U{u:08x}")
                } else {
                    write!(out, "\\u{u:04x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
