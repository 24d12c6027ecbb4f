//! Checks of the strings inside a LogQL query (a child module of `parser/mod.rs`): the structure
//! of RE2 regular expressions and whether they can match the empty string (for
//! [`super::check_selector`]), and Loki's `pattern` syntax. Neither recurses, so no input can
//! exhaust the stack.

/// What [`analyze_regex`] learns about a well-formed regular expression.
pub(super) struct RegexInfo {
    /// It can match the empty string (as a whole: `^(?:re)$`).
    pub(super) nullable: bool,
    /// Its named capture groups, in order.
    pub(super) names: Vec<String>,
}

/// Checks the structure of an RE2 (Go) regular expression and finds whether it can match the
/// empty string. Not a full validator: the evaluator's regex engine has the last word; this
/// catches unbalanced groups and classes, bad escapes and repetitions without an operand, and
/// it never recurses (so nesting depth does not matter).
pub(super) fn analyze_regex(re: &str) -> Result<RegexInfo, String> {
    /// A group being read: whether an alternative so far was nullable, whether the current
    /// concatenation is, and the last atom (which a repetition applies to).
    #[derive(Clone, Copy)]
    struct Frame {
        alt: bool,
        concat: bool,
        last: Option<bool>,
    }
    impl Frame {
        const NEW: Frame = Frame {
            alt: false,
            concat: true,
            last: None,
        };
        fn commit(&mut self) {
            if let Some(n) = self.last.take() {
                self.concat &= n;
            }
        }
        fn atom(&mut self, nullable: bool) {
            self.commit();
            self.last = Some(nullable);
        }
        fn finish(mut self) -> bool {
            self.commit();
            self.alt || self.concat
        }
    }
    let chars: Vec<char> = re.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut stack = vec![Frame::NEW];
    let mut top = Frame::NEW;
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        i += 1;
        match c {
            '(' if at(i) == Some('?') => {
                let named = match (at(i + 1), at(i + 2)) {
                    (Some('P'), Some('<')) => Some(i + 3),
                    (Some('<'), Some(n)) if n != '=' && n != '!' => Some(i + 2),
                    _ => None,
                };
                if let Some(start) = named {
                    let len = chars[start..]
                        .iter()
                        .position(|&c| c == '>')
                        .ok_or("invalid named capture")?;
                    let name: String = chars[start..start + len].iter().collect();
                    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        return Err(format!("invalid named capture: `{name}`"));
                    }
                    if names.contains(&name) {
                        return Err(format!("duplicate capture group name: `{name}`"));
                    }
                    names.push(name);
                    stack.push(top);
                    top = Frame::NEW;
                    i = start + len + 1;
                    continue;
                }
                let mut j = i + 1;
                while at(j).is_some_and(|c| c.is_ascii_alphabetic() || c == '-') {
                    j += 1;
                }
                match at(j) {
                    Some(':') => {
                        stack.push(top);
                        top = Frame::NEW;
                    }
                    // Flags alone, `(?i)`: no atom.
                    Some(')') => top.commit(),
                    _ => return Err("invalid or unsupported Perl syntax: `(?`".into()),
                }
                i = j + 1;
            }
            '(' => {
                stack.push(top);
                top = Frame::NEW;
            }
            ')' => {
                let nullable = top.finish();
                top = stack
                    .pop()
                    .filter(|_| !stack.is_empty())
                    .ok_or("unexpected ): unmatched )")?;
                top.atom(nullable);
            }
            '|' => {
                top.commit();
                top.alt |= top.concat;
                top.concat = true;
            }
            '*' | '?' | '+' | '{' => {
                let min = if c == '{' {
                    repeat_min(&chars, &mut i)?
                } else {
                    Some(u32::from(c == '+'))
                };
                match (min, top.last) {
                    // `{` that is not a repetition is a literal.
                    (None, _) => top.atom(false),
                    (Some(_), None) => {
                        return Err(format!("missing argument to repetition operator: `{c}`"));
                    }
                    (Some(min), Some(last)) => top.last = Some(last || min == 0),
                }
                if min.is_some() && at(i) == Some('?') {
                    i += 1;
                }
            }
            '[' => {
                i = skip_class(&chars, i)?;
                top.atom(false);
            }
            '\\' => {
                let (nullable, next) = escape(&chars, i)?;
                i = next;
                if let Some(n) = nullable {
                    top.atom(n);
                }
            }
            '^' | '$' => top.atom(true),
            _ => top.atom(false),
        }
    }
    if stack.len() != 1 {
        return Err("missing closing )".into());
    }
    Ok(RegexInfo {
        nullable: top.finish(),
        names,
    })
}

/// After `{` at `i - 1`: the minimum of a valid `{n}`, `{n,}` or `{n,m}` (moving `i` past it),
/// or `None` when it is a literal `{`.
fn repeat_min(chars: &[char], i: &mut usize) -> Result<Option<u32>, String> {
    let rest: String = chars
        .get(*i..)
        .unwrap_or(&[])
        .iter()
        .take_while(|&&c| c != '}')
        .collect();
    if *i + rest.chars().count() >= chars.len() {
        return Ok(None);
    }
    let (min, max) = match rest.split_once(',') {
        Some((min, max)) => (min, Some(max)),
        None => (rest.as_str(), None),
    };
    let num = |s: &str| {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().unwrap_or(u32::MAX))
    };
    let Some(lo) = num(min) else { return Ok(None) };
    let hi = match max {
        None => Some(lo),
        Some("") => None,
        Some(m) => match num(m) {
            Some(hi) => Some(hi),
            None => return Ok(None),
        },
    };
    if lo > 1000 || hi.is_some_and(|h| h > 1000 || h < lo) {
        return Err(format!("invalid repeat count: `{{{rest}}}`"));
    }
    *i += rest.chars().count() + 1;
    Ok(Some(lo))
}

/// Past the class opened at `i - 1`.
fn skip_class(chars: &[char], mut i: usize) -> Result<usize, String> {
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    let first = i;
    loop {
        match chars.get(i) {
            None => return Err("missing closing ]".into()),
            Some(']') if i > first => return Ok(i + 1),
            Some('[') if chars.get(i + 1) == Some(&':') => {
                let close = chars[i..].windows(2).position(|w| w == [':', ']']);
                i += close.map_or(1, |p| p + 2);
            }
            Some('\\') => i = escape(chars, i + 1)?.1,
            Some(_) => i += 1,
        }
    }
}

/// The escape after `\` at `i - 1`: whether it can match the empty string (`None` for `\Q\E`,
/// which is nothing) and where it ends.
fn escape(chars: &[char], i: usize) -> Result<(Option<bool>, usize), String> {
    let Some(&c) = chars.get(i) else {
        return Err("trailing backslash at end of expression".into());
    };
    let braced = |from: usize| match chars.get(from) {
        Some('{') => chars[from..]
            .iter()
            .position(|&c| c == '}')
            .map(|p| from + p + 1),
        Some(_) => Some(from + 1),
        None => None,
    };
    let bad = || format!("invalid escape sequence: `\\{c}`");
    Ok(match c {
        'Q' => {
            let rest = &chars[i + 1..];
            let len = rest
                .windows(2)
                .position(|w| w == ['\\', 'E'])
                .unwrap_or(rest.len());
            let end = (i + 1 + len + 2).min(chars.len());
            ((len > 0).then_some(false), end)
        }
        'b' | 'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'a' | 'f' | 't' | 'n' | 'r' | 'v' => {
            (Some(false), i + 1)
        }
        'B' | 'A' | 'z' => (Some(true), i + 1),
        'p' | 'P' => (Some(false), braced(i + 1).ok_or_else(bad)?),
        'x' => {
            let end = match chars.get(i + 1) {
                Some('{') => braced(i + 1),
                _ => chars
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(char::is_ascii_hexdigit))
                    .map(|_| i + 3),
            };
            (Some(false), end.ok_or_else(bad)?)
        }
        '0'..='7' => {
            let more = chars[i + 1..]
                .iter()
                .take(2)
                .take_while(|c| ('0'..='7').contains(*c))
                .count();
            if c != '0' && more == 0 {
                return Err(format!(
                    "invalid escape sequence: `\\{c}` (backreferences are not supported)"
                ));
            }
            (Some(false), i + 1 + more)
        }
        c if c.is_ascii_punctuation() || c == ' ' => (Some(false), i + 1),
        _ => return Err(bad()),
    })
}

/// Checks a Loki pattern: `<name>` captures, `<_>` unnamed ones. For the `pattern` parser at
/// least one named capture and no duplicate names; for `|>`/`!>` line filters no named
/// captures. In both, no two captures in a row.
pub(super) fn check_pattern(pattern: &str, line_filter: bool) -> Result<(), String> {
    let b = pattern.as_bytes();
    let mut names: Vec<&str> = Vec::new();
    let mut prev: Option<&str> = None;
    let mut i = 0;
    while i < b.len() {
        let len = (b.get(i) == Some(&b'<'))
            .then(|| capture_len(&b[i..]))
            .flatten();
        let Some(len) = len else {
            prev = None;
            i += 1;
            continue;
        };
        let capture = pattern.get(i..i + len).unwrap_or("");
        let name = capture.get(1..len - 1).unwrap_or("");
        if let Some(prev) = prev {
            return Err(format!(
                "found consecutive capture '{prev}{capture}': invalid expression"
            ));
        }
        if name != "_" {
            if line_filter {
                return Err(format!("named captures are not allowed: found '{capture}'"));
            }
            if names.contains(&name) {
                return Err(format!(
                    "duplicate capture name ({name}): invalid expression"
                ));
            }
            names.push(name);
        }
        prev = Some(capture);
        i += len;
    }
    if !line_filter && names.is_empty() {
        return Err("at least one capture is required".into());
    }
    Ok(())
}

/// The length of the `<name>` capture at the start of `b`, if it is one.
fn capture_len(b: &[u8]) -> Option<usize> {
    let first = *b.get(1)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let mut j = 2;
    while b
        .get(j)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        j += 1;
    }
    (b.get(j) == Some(&b'>')).then_some(j + 1)
}
