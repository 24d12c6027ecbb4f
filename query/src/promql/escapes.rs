//! Byte escapes in PromQL string literals, decoded as Prometheus decodes them.
//!
//! Prometheus unquotes strings with Go's `strconv.Unquote`, where `\xHH` and `\OOO` are
//! *bytes*: `"\xc3\xbf"` is the two-byte UTF-8 encoding of `ÿ`, and `"\xff"` is a lone
//! byte that is not UTF-8 at all (so `label_replace(m, "\xff", ...)` fails there with an
//! invalid label name). promql-parser 0.11 turns each such escape into the *character*
//! U+00HH instead, which would give `Ã¿` for the first and a valid label name `ÿ` for the
//! second. [`decode_byte_escapes`] rewrites every run of byte escapes inside `"…"` and
//! `'…'` literals before parsing: a run that forms UTF-8 becomes `\UXXXXXXXX` escapes of its
//! characters, which the parser decodes exactly; a run that does not is a parse error,
//! because Strata's labels and values are UTF-8 and no series could match it.

use std::borrow::Cow;

/// Rewrites byte escapes in quoted string literals of `query` (see the module docs).
/// Returns the query unchanged when it has none, and an error naming the literal's bytes
/// when they are not UTF-8.
pub(crate) fn decode_byte_escapes(query: &str) -> Result<Cow<'_, str>, String> {
    if !query.contains('\\') {
        return Ok(Cow::Borrowed(query));
    }
    let b = query.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => i = copy_until(b, i, |c| c == b'\n', &mut out),
            b'`' => i = copy_raw_string(b, i, &mut out),
            q @ (b'"' | b'\'') => {
                let open = i;
                out.push(q);
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        let (end, bytes) = byte_escape_run(b, i);
                        if bytes.is_empty() {
                            // Another escape: copy the backslash and the byte after it, so
                            // that `\\x41` stays an escaped backslash followed by `x41`.
                            let stop = (i + 2).min(b.len());
                            out.extend_from_slice(&b[i..stop]);
                            i = stop;
                            continue;
                        }
                        if bytes.iter().all(u8::is_ascii) {
                            out.extend_from_slice(&b[i..end]);
                        } else {
                            let text =
                                std::str::from_utf8(&bytes).map_err(|_| not_utf8(b, open, q))?;
                            for ch in text.chars() {
                                out.extend_from_slice(format!("\\U{:08x}", ch as u32).as_bytes());
                            }
                            changed = true;
                        }
                        i = end;
                    } else {
                        out.push(b[i]);
                        i += 1;
                    }
                }
                if i < b.len() {
                    out.push(q);
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if !changed {
        return Ok(Cow::Borrowed(query));
    }
    // Only ASCII was inserted and every other byte was copied whole, so this cannot fail;
    // map it to a parse error anyway rather than trusting that.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| "invalid UTF-8 in query".to_owned())
}

/// The error for the literal opened at `open` (quote `q`) whose bytes are not UTF-8. As the
/// first argument of `count_values` it is Prometheus's "invalid label name" with the
/// literal quoted as Go's `%q` does (`"a\xc5z"`); elsewhere it names the literal the same way.
fn not_utf8(b: &[u8], open: usize, q: u8) -> String {
    let mut bytes = Vec::new();
    let mut i = open + 1;
    while i < b.len() && b[i] != q {
        if b[i] == b'\\' {
            let (end, run) = byte_escape_run(b, i);
            if !run.is_empty() {
                bytes.extend(run);
                i = end;
                continue;
            }
            // Other escapes: keep the escaped character (enough to name the literal).
            let c = b.get(i + 1).copied().unwrap_or(b'\\');
            bytes.push(match c {
                b'n' => b'\n',
                b't' => b'\t',
                other => other,
            });
            i += 2;
            continue;
        }
        bytes.push(b[i]);
        i += 1;
    }
    let quoted = go_quote(&bytes);
    let before = String::from_utf8_lossy(&b[..open]);
    let before: String = before.chars().filter(|c| !c.is_whitespace()).collect();
    if before.ends_with("count_values(") {
        format!("invalid label name {quoted}")
    } else {
        format!("invalid UTF-8 in string literal: {quoted}")
    }
}

/// `bytes` quoted as Go's `%q`: valid UTF-8 as it is (quotes and backslashes escaped,
/// control characters as `\n`, `\t` or `\xNN`), every other byte as `\xNN`.
fn go_quote(mut bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    while !bytes.is_empty() {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (v, r) = bytes.split_at(e.valid_up_to());
                // The first `valid_up_to` bytes are UTF-8, so this never falls back.
                (std::str::from_utf8(v).unwrap_or_default(), r)
            }
        };
        for c in valid.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        if let Some((&bad, r)) = rest.split_first() {
            out.push_str(&format!("\\x{bad:02x}"));
            bytes = r;
        } else {
            bytes = rest;
        }
    }
    out.push('"');
    out
}

/// Copies from `start` through the byte for which `stop` holds (inclusive), or to the end.
fn copy_until(b: &[u8], start: usize, stop: impl Fn(u8) -> bool, out: &mut Vec<u8>) -> usize {
    let end = b[start..]
        .iter()
        .position(|&c| stop(c))
        .map_or(b.len(), |p| start + p + 1);
    out.extend_from_slice(&b[start..end]);
    end
}

/// Copies a backquoted raw string (no escapes inside) starting at the opening quote.
fn copy_raw_string(b: &[u8], start: usize, out: &mut Vec<u8>) -> usize {
    out.push(b'`');
    copy_until(b, start + 1, |c| c == b'`', out)
}

/// The run of consecutive `\xHH` / `\OOO` escapes starting at `i` (a backslash): where it
/// ends and the bytes it stands for. Empty when the escape at `i` is of another kind.
fn byte_escape_run(b: &[u8], mut i: usize) -> (usize, Vec<u8>) {
    let mut bytes = Vec::new();
    while i < b.len() && b[i] == b'\\' {
        let Some(byte) = byte_escape(&b[i + 1..]) else {
            break;
        };
        bytes.push(byte);
        i += 4;
    }
    (i, bytes)
}

/// The byte of `xHH` or `OOO` (Go's rules: exactly two hex or three octal digits, at most
/// 255) at the start of `s`.
fn byte_escape(s: &[u8]) -> Option<u8> {
    let digits = s.get(..3)?;
    let text = std::str::from_utf8(digits).ok()?;
    if let Some(hex) = text.strip_prefix('x') {
        return u8::from_str_radix(hex, 16).ok();
    }
    u8::from_str_radix(text, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::decode_byte_escapes;

    fn parsed_string(query: &str) -> String {
        let q = decode_byte_escapes(query).expect("valid UTF-8");
        match promql_parser::parser::parse(&q).expect("parses") {
            promql_parser::parser::Expr::StringLiteral(s) => s.val,
            other => panic!("not a string literal: {other:?}"),
        }
    }

    #[test]
    fn multi_byte_escapes_decode_as_utf8() {
        assert_eq!(parsed_string(r#""\xc3\xbf""#), "ÿ");
        assert_eq!(parsed_string(r#""a\303\277b""#), "aÿb");
        assert_eq!(parsed_string(r#"'\xe2\x82\xac'"#), "€");
    }

    #[test]
    fn ascii_escapes_and_other_text_are_untouched() {
        for q in [
            r#""\x41\n\\x41""#,
            "`\\xff`",
            "up # \"\\xff\"\n",
            r#"{a="ÿ"}"#,
            "rate(x[5m])",
        ] {
            assert!(matches!(
                decode_byte_escapes(q),
                Ok(std::borrow::Cow::Borrowed(_))
            ));
        }
        assert_eq!(parsed_string(r#""\\xff""#), "\\xff");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error() {
        let err = decode_byte_escapes(r#"label_replace(m, "\xff", "", "src", "(.*)")"#)
            .expect_err("lone 0xff");
        assert!(err.contains(r"\xff"), "{err}");
        assert_eq!(
            decode_byte_escapes(r#""a\xc5z""#).expect_err("lone 0xc5"),
            r#"invalid UTF-8 in string literal: "a\xc5z""#
        );
        // aggregators.test: Prometheus's message for count_values' label.
        assert_eq!(
            decode_byte_escapes(r#"count_values("a\xc5z", version)"#).expect_err("lone 0xc5"),
            r#"invalid label name "a\xc5z""#
        );
        assert_eq!(
            decode_byte_escapes(r#"count_values ( "q\"\xff", v)"#).expect_err("lone 0xff"),
            r#"invalid label name "q\"\xff""#
        );
    }
}
