//! Parameters of prepared statements: JDBC-style `?` placeholders rewritten into
//! DataFusion's `$1`, `$2`, ..., and the parameter batch a client binds with `DoPut` turned
//! into values of the placeholders' types.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Why a statement's text or parameters cannot be used (all the client's errors).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ParamError {
    /// The text does not tokenize (an unterminated string, ...).
    #[error("sql: {0}")]
    Tokenize(String),
    /// `?` and `$n` in one statement.
    #[error("use either ? or $1, $2, ... placeholders in a statement, not both")]
    Mixed,
    /// The bound batch has a column count other than the statement's placeholders.
    #[error("the statement has {expected} parameters; {got} were bound")]
    Count {
        /// The statement's placeholders.
        expected: usize,
        /// The bound batch's columns.
        got: usize,
    },
    /// The bound batch does not have exactly one row.
    #[error("bind exactly one row of parameters ({0} rows were bound)")]
    Rows(usize),
    /// A value that cannot be read or converted to its placeholder's type.
    #[error("parameter ${index}: {reason}")]
    Value {
        /// The placeholder's number, from 1.
        index: usize,
        /// What went wrong.
        reason: String,
    },
}

/// `sql` with each `?` placeholder (outside strings, identifiers and comments) replaced by
/// `$1`, `$2`, ... in order. Text without `?` comes back as it is.
pub(crate) fn rewrite_question_marks(sql: &str) -> Result<String, ParamError> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| ParamError::Tokenize(e.to_string()))?;
    let mut marks = Vec::new();
    let mut dollars = false;
    for t in &tokens {
        if let Token::Placeholder(p) = &t.token {
            if p == "?" {
                marks.push((t.span.start.line, t.span.start.column));
            } else if p.starts_with('$') {
                dollars = true;
            }
        }
    }
    if marks.is_empty() {
        return Ok(sql.to_owned());
    }
    if dollars {
        return Err(ParamError::Mixed);
    }
    // Locations are 1-based lines and columns counted in characters.
    let mut out = String::with_capacity(sql.len() + marks.len() * 2);
    let mut next = marks.iter().peekable();
    let mut n = 0;
    for (i, line) in sql.split_inclusive('\n').enumerate() {
        let line_no = i as u64 + 1;
        for (j, ch) in line.chars().enumerate() {
            if next.peek() == Some(&&(line_no, j as u64 + 1)) && ch == '?' {
                next.next();
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
    }
    Ok(out)
}

/// The values of a bound parameter batch (one row, a column per placeholder), each cast
/// to its placeholder's type where DataFusion inferred one (a Python `int` is `Int64`, a
/// `series_id` is `UInt64`).
pub(crate) fn values(
    batch: &RecordBatch,
    types: &[Option<DataType>],
) -> Result<Vec<ScalarValue>, ParamError> {
    if batch.num_columns() != types.len() {
        return Err(ParamError::Count {
            expected: types.len(),
            got: batch.num_columns(),
        });
    }
    if batch.num_rows() != 1 {
        return Err(ParamError::Rows(batch.num_rows()));
    }
    let mut out = Vec::with_capacity(types.len());
    for (i, (column, ty)) in batch.columns().iter().zip(types).enumerate() {
        let bad = |e: datafusion::error::DataFusionError| ParamError::Value {
            index: i + 1,
            reason: e.to_string(),
        };
        let value = ScalarValue::try_from_array(column, 0).map_err(bad)?;
        let value = match ty {
            Some(ty) if value.data_type() != *ty => value.cast_to(ty).map_err(bad)?,
            _ => value,
        };
        out.push(value);
    }
    Ok(out)
}
