//! VictoriaMetrics's JSON lines (`/api/v1/import`, and what `/api/v1/export` writes): one
//! series per line, `{"metric":{"__name__":"up","job":"a"},"values":[1,1],"timestamps":[1700000000000,1700000015000]}`.
//! A value is a number, `null` (skipped) or a string a float parses from (`"NaN"`,
//! `"+Inf"`); timestamps are integer milliseconds; the two arrays are as long as each other.

use strata_engine::{Sample, SeriesSamples};

/// One line's series, or why it is refused. Numbers are read with Rust's correctly rounded
/// float parser (a general JSON parser may be a unit in the last place off), so a value
/// exported and imported again is the same bits.
pub(crate) fn parse_line(line: &[u8]) -> Result<SeriesSamples, String> {
    let bad = |e: String| format!("not a series: {e}");
    let mut p = Reader { b: line, i: 0 };
    let mut labels: Option<Vec<(String, String)>> = None;
    let mut values: Option<Vec<Option<f64>>> = None;
    let mut timestamps: Option<Vec<i64>> = None;
    p.expect(b'{').map_err(bad)?;
    loop {
        let key = p.string().map_err(bad)?;
        p.expect(b':').map_err(bad)?;
        match key.as_str() {
            "metric" => labels = Some(p.labels().map_err(bad)?),
            "values" => values = Some(p.array(|p| p.value()).map_err(bad)?),
            "timestamps" => timestamps = Some(p.array(|p| p.timestamp()).map_err(bad)?),
            other => return Err(bad(format!("unknown key {other:?}"))),
        }
        match p.next().map_err(bad)? {
            b',' => {}
            b'}' => break,
            c => return Err(bad(format!("unexpected {:?}", c as char))),
        }
    }
    p.skip_ws();
    if p.i != p.b.len() {
        return Err(bad("trailing characters".into()));
    }
    let (Some(labels), Some(values), Some(timestamps)) = (labels, values, timestamps) else {
        return Err(bad("missing `metric`, `values` or `timestamps`".into()));
    };
    if values.len() != timestamps.len() {
        return Err(format!(
            "{} values for {} timestamps",
            values.len(),
            timestamps.len()
        ));
    }
    if !labels.iter().any(|(n, _)| n == "__name__") {
        return Err("the metric has no __name__".into());
    }
    let samples = values
        .into_iter()
        .zip(timestamps)
        .filter_map(|(v, ts)| v.map(|value| Sample { ts, value }))
        .collect();
    Ok(SeriesSamples { labels, samples })
}

/// A cursor over one JSON line of the fixed shape above.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Result<u8, String> {
        self.skip_ws();
        let c = *self.b.get(self.i).ok_or("unexpected end")?;
        self.i += 1;
        Ok(c)
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.next()? {
            x if x == c => Ok(()),
            x => Err(format!("expected {:?}, found {:?}", c as char, x as char)),
        }
    }

    /// A JSON string (its escapes undone by serde_json, which is exact for strings).
    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.i;
        if self.b.get(self.i) != Some(&b'"') {
            return Err("expected a string".into());
        }
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return serde_json::from_slice(&self.b[start..self.i])
                        .map_err(|e| e.to_string());
                }
                _ => self.i += 1,
            }
        }
        Err("an unterminated string".into())
    }

    /// The bytes of a number.
    fn number(&mut self) -> Result<&str, String> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.b.len()
            && matches!(
                self.b[self.i],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| "expected a number".into())
    }

    fn labels(&mut self) -> Result<Vec<(String, String)>, String> {
        self.expect(b'{')?;
        let mut out = Vec::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(out);
        }
        loop {
            let k = self.string()?;
            self.expect(b':')?;
            let v = self.string()?;
            out.push((k, v));
            match self.next()? {
                b',' => {}
                b'}' => return Ok(out),
                c => return Err(format!("unexpected {:?} in `metric`", c as char)),
            }
        }
    }

    fn array<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            match self.next()? {
                b',' => {}
                b']' => return Ok(out),
                c => return Err(format!("unexpected {:?} in an array", c as char)),
            }
        }
    }

    /// A value: a number, `null` (none) or a string a float parses from.
    fn value(&mut self) -> Result<Option<f64>, String> {
        match self.peek() {
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(None)
            }
            Some(b'"') => {
                let s = self.string()?;
                parse_float(&s)
                    .map(Some)
                    .ok_or_else(|| format!("value {s:?} is not a number"))
            }
            _ => {
                let n = self.number()?;
                n.parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("value {n:?} is not a number"))
            }
        }
    }

    fn timestamp(&mut self) -> Result<i64, String> {
        let n = self.number()?;
        n.parse::<i64>()
            .or_else(|_| n.parse::<f64>().map(|f| f as i64))
            .map_err(|_| format!("timestamp {n:?} is not a number"))
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_bad_ones_say_why() {
        let s = parse_line(br#"{"metric":{"__name__":"up","job":"a"},"values":[1,null,"NaN",2.5],"timestamps":[1,2,3,4]}"#).unwrap();
        assert_eq!(
            s.labels,
            vec![("__name__".into(), "up".into()), ("job".into(), "a".into())]
        );
        let got: Vec<(i64, String)> = s
            .samples
            .iter()
            .map(|p| (p.ts, p.value.to_string()))
            .collect();
        assert_eq!(got, [(1, "1".into()), (3, "NaN".into()), (4, "2.5".into())]);
        let e = |l: &str| parse_line(l.as_bytes()).unwrap_err();
        assert!(
            e(r#"{"metric":{"__name__":"up"},"values":[1],"timestamps":[]}"#)
                .contains("1 values for 0")
        );
        assert!(e(r#"{"metric":{"job":"a"},"values":[],"timestamps":[]}"#).contains("__name__"));
        assert!(
            e(r#"{"metric":{"__name__":"up"},"values":["x"],"timestamps":[1]}"#)
                .contains("not a number")
        );
        assert!(e("{not json").contains("not a series"));
        assert!(
            e(r#"{"metric":{"__name__":"up"},"values":[1],"timestamps":[1],"x":1}"#)
                .contains("unknown key")
        );
    }

    #[test]
    fn values_keep_their_bits() {
        // Numbers a general JSON float parser may round a unit in the last place off.
        let want = [
            61.050000000000004f64,
            5566.650000000001,
            127.64999999999999,
            2.2250738585072014e-308,
            5e-324,
        ];
        let line = format!(
            r#"{{"metric":{{"__name__":"x","l":"a\"b\u00e9"}},"values":[{}],"timestamps":[1,2,3,4,5]}}"#,
            want.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let s = parse_line(line.as_bytes()).unwrap();
        assert_eq!(s.labels[1], ("l".into(), "a\"bé".into()));
        let got: Vec<u64> = s.samples.iter().map(|p| p.value.to_bits()).collect();
        assert_eq!(got, want.map(f64::to_bits));
    }
}
