//! What a delete names: the spans or log records of a time range whose fields equal given
//! values ([`RecordPredicate`], parsed from a small SQL-like text), and what a delete did
//! ([`DeleteStats`]). The engine applies them in `lifecycle/delete.rs`.

use std::fmt;

use crate::{Error, Result};

/// The record signals a [`RecordPredicate`] deletes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordSignal {
    /// Spans (the `spans` table; time: `start_time`).
    Spans,
    /// Log records (the `logs` table; time: `time`).
    Logs,
}

impl RecordSignal {
    /// Its name, as the HTTP API and the command line spell it (`spans`, `logs`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spans => "spans",
            Self::Logs => "logs",
        }
    }

    /// The signal named `name` (`spans`, `traces` or `logs`).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "spans" | "traces" => Ok(Self::Spans),
            "logs" => Ok(Self::Logs),
            other => Err(invalid(format!(
                "unknown signal {other:?}: spans (or traces) or logs"
            ))),
        }
    }
}

/// What one condition of a [`RecordPredicate`] compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordField {
    /// A bare name: the table's column of that name (`service_name`, `name`,
    /// `severity_text`, `http_route`, ...) when the signal has one, else the record
    /// attribute of that key (`client.address`).
    Name(String),
    /// `attributes['key']`: the record's attribute `key` (for spans, also in the
    /// well-known column it is stored in, such as `http.route`).
    Attribute(String),
    /// `resource_attributes['key']`: the resource's attribute `key`.
    ResourceAttribute(String),
}

/// `field = 'value'`: the field's text form (the form SQL reads: an attribute's text
/// form, an integer in decimal, an id in lowercase hex) equals `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCondition {
    /// What is compared.
    pub field: RecordField,
    /// The value it must equal.
    pub value: String,
}

/// The records a delete removes: those whose time (a span's start, a log record's time)
/// is in `[start_ns, end_ns]` and which meet every condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPredicate {
    /// Earliest time deleted (ns, inclusive).
    pub start_ns: i64,
    /// Latest time deleted (ns, inclusive).
    pub end_ns: i64,
    /// Conditions, all of which must hold (at least one).
    pub conditions: Vec<RecordCondition>,
}

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteStats {
    /// Files (metrics: file sets) rewritten without the deleted rows.
    pub files_rewritten: usize,
    /// Files (metrics: file sets) removed because nothing was left in them.
    pub files_removed: usize,
    /// Rows deleted: samples, spans or log records.
    pub rows_deleted: u64,
    /// Files whose time range met the delete's and that were read.
    pub files_checked: usize,
}

impl RecordPredicate {
    /// Parses `cond AND cond ...` over `[start_ns, end_ns]`, each `cond` being
    /// `field = 'value'` where `field` is a bare name (`service_name`, `client.address`,
    /// a name with other characters in double quotes), `attributes['key']` or
    /// `resource_attributes['key']`. Strings are single-quoted, `''` standing for a quote.
    ///
    /// ```
    /// use strata_engine::{RecordField, RecordPredicate};
    ///
    /// let p = RecordPredicate::parse("client.address = '1.2.3.4' AND attributes['user'] = 'o''brien'", 0, 10)?;
    /// assert_eq!(p.conditions[0].field, RecordField::Name("client.address".into()));
    /// assert_eq!(p.conditions[1].value, "o'brien");
    /// assert!(RecordPredicate::parse("a = 'x' OR b = 'y'", 0, 10).is_err());
    /// # Ok::<(), strata_engine::Error>(())
    /// ```
    pub fn parse(text: &str, start_ns: i64, end_ns: i64) -> Result<Self> {
        let mut p = Parser { s: text, at: 0 };
        let mut conditions = vec![p.condition()?];
        loop {
            p.skip_space();
            if p.at == p.s.len() {
                break;
            }
            let word = p.word();
            if !word.eq_ignore_ascii_case("and") {
                return Err(p.fail(&format!(
                    "expected AND or the end, found {:?} (only AND of equalities is supported)",
                    if word.is_empty() { p.rest() } else { word }
                )));
            }
            conditions.push(p.condition()?);
        }
        let pred = Self {
            start_ns,
            end_ns,
            conditions,
        };
        pred.check()?;
        Ok(pred)
    }

    /// Checks the range and that there is a condition.
    pub(crate) fn check(&self) -> Result<()> {
        if self.start_ns > self.end_ns {
            return Err(invalid(format!(
                "start {} is after end {}",
                self.start_ns, self.end_ns
            )));
        }
        if self.conditions.is_empty() {
            return Err(invalid("a delete needs at least one condition".into()));
        }
        Ok(())
    }
}

impl fmt::Display for RecordPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(" AND ")?;
            }
            match &c.field {
                RecordField::Name(n) => write!(f, "\"{}\"", n.replace('"', "\"\""))?,
                RecordField::Attribute(k) => write!(f, "attributes[{}]", quote(k))?,
                RecordField::ResourceAttribute(k) => {
                    write!(f, "resource_attributes[{}]", quote(k))?;
                }
            }
            write!(f, " = {}", quote(&c.value))?;
        }
        Ok(())
    }
}

/// A request the engine cannot carry out as given.
pub(crate) fn invalid(reason: String) -> Error {
    Error::InvalidRequest { reason }
}

/// The predicate text being read.
struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn fail(&self, what: &str) -> Error {
        invalid(format!("predicate at byte {}: {what}", self.at))
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    /// A run of name characters: letters, digits and `_ . - : /`.
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let n = rest
            .find(|c: char| !(c.is_alphanumeric() || "_.-:/".contains(c)))
            .unwrap_or(rest.len());
        self.at += n;
        &rest[..n]
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A string quoted by `q`, the quote doubled inside it.
    fn quoted(&mut self, q: char) -> Result<String> {
        if !self.eat(q) {
            return Err(self.fail(&format!("expected a {q}-quoted string")));
        }
        let mut out = String::new();
        loop {
            let rest = self.rest();
            let Some(i) = rest.find(q) else {
                return Err(self.fail("unterminated string"));
            };
            out.push_str(&rest[..i]);
            self.at += i + 1;
            if self.rest().starts_with(q) {
                out.push(q);
                self.at += 1;
            } else {
                return Ok(out);
            }
        }
    }

    fn condition(&mut self) -> Result<RecordCondition> {
        self.skip_space();
        let field = if self.rest().starts_with('"') {
            RecordField::Name(self.quoted('"')?)
        } else {
            let name = self.word();
            if name.is_empty() {
                return Err(self.fail("expected a field name"));
            }
            if self.eat('[') {
                let key = self.quoted('\'')?;
                if !self.eat(']') {
                    return Err(self.fail("expected ]"));
                }
                match name {
                    "attributes" => RecordField::Attribute(key),
                    "resource_attributes" => RecordField::ResourceAttribute(key),
                    other => {
                        return Err(self.fail(&format!(
                            "{other}[...]: only attributes[...] and resource_attributes[...] take a key"
                        )));
                    }
                }
            } else {
                RecordField::Name(name.to_owned())
            }
        };
        if !self.eat('=') {
            return Err(self.fail("expected = (only equality is supported)"));
        }
        let value = self.quoted('\'')?;
        Ok(RecordCondition { field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_parse_and_print_back() {
        let p = RecordPredicate::parse(
            "  service_name='api' and resource_attributes['host.name'] = 'h 1'AND \"odd key\" = ''",
            1,
            2,
        )
        .unwrap();
        assert_eq!(
            p.conditions,
            vec![
                RecordCondition {
                    field: RecordField::Name("service_name".into()),
                    value: "api".into()
                },
                RecordCondition {
                    field: RecordField::ResourceAttribute("host.name".into()),
                    value: "h 1".into()
                },
                RecordCondition {
                    field: RecordField::Name("odd key".into()),
                    value: String::new()
                },
            ]
        );
        let again = RecordPredicate::parse(&p.to_string(), 1, 2).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn bad_predicates_say_what_is_wrong() {
        for (text, says) in [
            ("", "expected a field name"),
            ("a", "expected ="),
            ("a > 'x'", "expected ="),
            ("a = x", "quoted string"),
            ("a = 'x", "unterminated"),
            ("a = 'x' OR b = 'y'", "expected AND"),
            ("labels['k'] = 'v'", "only attributes"),
            ("attributes['k' = 'v'", "expected ]"),
        ] {
            let e = RecordPredicate::parse(text, 0, 1).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
        let e = RecordPredicate::parse("a = 'x'", 2, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("after end"), "{e}");
    }
}
