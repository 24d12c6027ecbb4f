//! The UTF-8 check of protobuf string fields, with a fast path for ASCII.
//!
//! A decoded OTLP span has ~25 string fields (names, attribute keys and values), nearly
//! all short and ASCII. `std::str::from_utf8` walks short, unaligned strings a byte at a
//! time; `<[u8]>::is_ascii` reads them a word at a time. On such strings the ASCII check
//! took ~1.6 ns where `from_utf8` took ~4.6 (`docs/benchmarks-history.md`, "UTF-8 checks"), so
//! strings are checked for ASCII first and only the others are validated in full.

/// `bytes` as text, or `None` if they are not valid UTF-8: the same answer as
/// `std::str::from_utf8(bytes).ok()`, sooner for ASCII.
#[inline]
pub(crate) fn text(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        #[allow(unsafe_code)]
        // Safety: every byte is below 0x80, and a sequence of ASCII bytes is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::text;
    use crate::ingest::test_rng::Rng;

    #[test]
    fn agrees_with_std_on_valid_and_invalid_text() {
        let cases: &[&[u8]] = &[
            b"",
            b"GET",
            b"/api/v1/orders/{id}",
            "caf\u{e9} \u{1f600} \u{4e2d}".as_bytes(),
            b"\xff",
            b"abc\x80",
            b"\xc0\xaf",         // overlong '/'
            b"\xed\xa0\x80",     // a UTF-16 surrogate
            b"\xf4\x90\x80\x80", // past U+10FFFF
            b"ok then \xe2\x82", // cut short
        ];
        for &bytes in cases {
            assert_eq!(text(bytes), std::str::from_utf8(bytes).ok(), "{bytes:?}");
        }
        assert_eq!(text(b"\xc3\xa9"), Some("\u{e9}"));
        assert_eq!(text(b"\xc3"), None);
    }

    #[test]
    fn agrees_with_std_on_random_bytes() {
        let mut rng = Rng(0x5eed_07f8);
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..20_000 {
            let len = rng.index(40);
            let mut bytes = rng.bytes(len);
            // Mostly ASCII with a few high bytes, so both answers occur often.
            for b in &mut bytes {
                if !rng.one_in(8) {
                    *b &= 0x7f;
                }
            }
            let want = std::str::from_utf8(&bytes).ok();
            assert_eq!(text(&bytes), want, "{bytes:?}");
            if want.is_some() {
                valid += 1
            } else {
                invalid += 1
            }
        }
        assert!(
            valid > 1_000 && invalid > 1_000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
