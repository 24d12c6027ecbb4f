//! `| decolorize` stage: strips ANSI escape sequences (colour codes, cursor
//! movement, OSC titles) from the line, using the same expression as Loki's
//! `Decolorizer` (pkg/logql/log/fmt.go, after acarl005/stripansi).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::regexp::compile_go;

/// Loki's `ansiPattern` (Go RE2 syntax; `\d` is ASCII).
pub const ANSI_PATTERN: &str = "[\u{1b}\u{9b}][\\[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u{7})|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))";

static ANSI: LazyLock<Option<Regex>> = LazyLock::new(|| compile_go(ANSI_PATTERN).ok());

/// Removes ANSI escape sequences from `line`; borrows when there is nothing
/// to remove.
pub fn decolorize(line: &str) -> Cow<'_, str> {
    match ANSI.as_ref() {
        Some(re) => re.replace_all(line, ""),
        None => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Loki: pkg/logql/log/fmt_test.go TestDecolorizer, plus common sequences.
    #[test]
    fn strips_sequences() {
        assert!(ANSI.is_some(), "pattern compiles");
        let cases = [
            ("\u{1b}[31mred\u{1b}[0m", "red"),
            ("\u{1b}[1;32mINFO\u{1b}[0m started", "INFO started"),
            ("\u{1b}[38;5;196mx\u{1b}[39m", "x"),
            ("\u{1b}[2K\u{1b}[1Gprogress", "progress"),
            ("\u{1b}]0;title\u{7}text", "text"),
            // same as Go: the OSC branch cannot span a space, so only `ESC]0` goes
            ("\u{1b}]0;window title\u{7}text", ";window title\u{7}text"),
            // Loki TestDecolorizer
            ("sample text", "sample text"),
            (
                "\u{1b}[0;32mgreen\u{1b}[0m \u{1b}[0;31mred\u{1b}[0m",
                "green red",
            ),
            ("\u{9b}31mcsi8\u{9b}0m", "csi8"),
            ("plain line", "plain line"),
            ("\u{1b}", "\u{1b}"), // a lone ESC is not a sequence
            ("", ""),
            ("\u{1b}[31m", ""),
        ];
        for (input, want) in cases {
            assert_eq!(decolorize(input), want, "input {input:?}");
        }
        assert!(matches!(decolorize("no escapes"), Cow::Borrowed(_)));
    }
}
