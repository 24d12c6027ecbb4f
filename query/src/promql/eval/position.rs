//! Positions of calls and arguments in the query text, for annotations.

use super::Evaluator;

impl Evaluator<'_> {
    /// ` (line:col)` of argument `arg` of the first call of `func` in the query text, or of
    /// the call itself when `arg` is `None` (Prometheus appends positions to annotations).
    pub(crate) fn arg_position(&self, func: &str, arg: Option<usize>) -> String {
        let q = self.query;
        let bytes = q.as_bytes();
        let mut from = 0;
        let call = loop {
            let Some(i) = q[from..].find(func).map(|i| i + from) else {
                return String::new();
            };
            let before_ok =
                i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            let mut rest = q[i + func.len()..].trim_start();
            // Aggregations may put `by (...)`/`without (...)` before their arguments.
            for kw in ["by", "without", "BY", "WITHOUT", "By", "Without"] {
                if let Some(r) = rest.strip_prefix(kw)
                    && r.trim_start().starts_with('(')
                {
                    let r = r.trim_start();
                    rest = r.find(')').map_or(r, |e| r[e + 1..].trim_start());
                }
            }
            if before_ok && rest.starts_with('(') {
                break i;
            }
            from = i + func.len();
        };
        let mut pos = call;
        if let Some(n) = arg {
            let after = call + func.len();
            let mut open = after + q[after..].find('(').unwrap_or(0) + 1;
            // Skip a `by (...)`/`without (...)` group.
            let head = q[after..open - 1].trim().to_ascii_lowercase();
            if head == "by" || head == "without" {
                let close = open + q[open..].find(')').unwrap_or(0) + 1;
                open = close + q[close..].find('(').unwrap_or(0) + 1;
            }
            let (mut depth, mut commas, mut quote) = (0i32, 0usize, None::<u8>);
            let mut start = open;
            let mut i = open;
            while i < bytes.len() && commas < n {
                let c = bytes[i];
                match quote {
                    Some(_) if c == b'\\' => i += 1,
                    Some(qc) if c == qc => quote = None,
                    Some(_) => {}
                    None => match c {
                        b'"' | b'\'' | b'`' => quote = Some(c),
                        b'(' | b'[' | b'{' => depth += 1,
                        b')' | b']' | b'}' => depth -= 1,
                        b',' if depth == 0 => {
                            commas += 1;
                            start = i + 1;
                        }
                        _ => {}
                    },
                }
                i += 1;
            }
            while start < bytes.len() && bytes[start].is_ascii_whitespace() {
                start += 1;
            }
            pos = start;
        }
        let before = &q[..pos];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(" ({line}:{col})")
    }
}
