//! Go (RE2) regex syntax rewritten for the `regex` crate where the two differ.

/// Rewrites a Go regex so the `regex` crate gives it Go's meaning: ASCII-only
/// `\d \w \s \b` (and negations), `\Q...\E` quoting, `\<`/`\>` as literals, a `{`
/// that starts no repetition as a literal, and `[`, `&`, `~` inside a class as
/// literals. Everything else is passed through unchanged.
pub(super) fn translate_go(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    // Inside `[...]`; `class_start` is true right after `[` or `[^`.
    let (mut in_class, mut class_start) = (false, false);
    while let Some(c) = chars.next() {
        let at_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\'); // Trailing backslash: let the regex crate report it.
                    break;
                };
                match e {
                    'Q' if !in_class => {
                        let rest = chars.as_str();
                        let (lit, after) = rest.split_once("\\E").unwrap_or((rest, ""));
                        out.push_str(&regex::escape(lit));
                        chars = after.chars();
                    }
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => out.push_str(perl_class(e, in_class)),
                    'b' | 'B' if !in_class => {
                        out.push_str("(?-u:\\");
                        out.push(e);
                        out.push(')');
                    }
                    '<' | '>' => out.push(e),
                    // `\p{Greek}`, `\x{41}`: copy the braces as they are.
                    'p' | 'P' | 'x' if chars.as_str().starts_with('{') => {
                        let rest = chars.as_str();
                        let len = rest.find('}').map_or(rest.len(), |i| i + 1);
                        out.push('\\');
                        out.push(e);
                        out.push_str(rest.get(..len).unwrap_or(rest));
                        chars = rest.get(len..).unwrap_or("").chars();
                    }
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                out.push('[');
                in_class = true;
                class_start = true;
                if let Some(r) = chars.as_str().strip_prefix('^') {
                    out.push('^');
                    chars = r.chars();
                }
            }
            ']' if in_class && at_start => out.push_str("\\]"),
            ']' if in_class => {
                out.push(']');
                in_class = false;
            }
            '[' if in_class => {
                let rest = chars.as_str();
                match named_class(rest).and_then(|len| Some((rest.get(..len)?, rest.get(len..)?))) {
                    Some((class, after)) => {
                        out.push('[');
                        out.push_str(class);
                        chars = after.chars();
                    }
                    None => out.push_str("\\["),
                }
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class && !is_repeat(chars.as_str()) => out.push_str("\\{"),
            _ => out.push(c),
        }
    }
    out
}

/// Go's Perl classes are ASCII-only.
fn perl_class(e: char, in_class: bool) -> &'static str {
    match (e, in_class) {
        ('d', false) => "[0-9]",
        ('d', true) => "0-9",
        ('D', _) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('w', true) => "0-9A-Za-z_",
        ('W', _) => "[^0-9A-Za-z_]",
        ('s', false) => "[\\t\\n\\x0C\\r ]",
        ('s', true) => "\\t\\n\\x0C\\r ",
        _ => "[^\\t\\n\\x0C\\r ]",
    }
}

/// Length of `:name:]` when `rest` (after a `[` inside a class) is a POSIX class.
fn named_class(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix(':')?;
    let end = body.find(":]")?;
    let name = body.get(..end)?;
    let name = name.strip_prefix('^').unwrap_or(name);
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase())).then_some(end + 3)
}

/// Whether `rest` (after a `{`) is a Go repetition `n}`, `n,}` or `n,m}`.
fn is_repeat(rest: &str) -> bool {
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    let after = rest.get(n..).unwrap_or("");
    match after.strip_prefix(',') {
        Some(m) => m.get(digits(m)..).is_some_and(|t| t.starts_with('}')),
        None => after.starts_with('}'),
    }
}
