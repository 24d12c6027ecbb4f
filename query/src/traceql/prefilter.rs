//! Spanset filters compiled to SQL conditions over the `spans` table: a condition every
//! matching span meets (necessary), and whether it is also sufficient (exact).
//!
//! Well-known attributes are compared in their typed columns (`http_route`,
//! `http_response_status_code`, `service_name` ...) when the literal has the column's
//! type, and the maps (a tenth of the cost to read: `docs/traceql.md`, "Performance") are
//! then not read: such an attribute sent with another type (a status code as a float) is
//! not found by that comparison. Other attributes are compared in the `attributes` /
//! `resource_attributes` / `scope_attributes` maps (the last: `instrumentation.`, null in
//! files written before it, where the comparison then holds for nil only, as the
//! in-memory evaluation reads those spans), with
//! their type from the `*_types` maps so that `"500"` and `500` stay different values as
//! in Tempo. An unscoped attribute compiles to the span's condition `OR` the resource's,
//! inexact (the span's value takes precedence, which SQL does not check). What SQL cannot
//! check at all (trace-level intrinsics, structure, arithmetic, `!`, the `event.`,
//! `link.` and `parent.` scopes) compiles to `TRUE`, inexact; both are left to the
//! in-memory pass.
//!
//! Beside its SQL text, each condition carries the same test in a form the engine's spans
//! summaries decide ([`SpanTest`], `Cond::need`): every row the SQL selects meets it, so
//! when the summaries of an hour's files prove that no span meets it, the SQL would
//! select nothing there and the search skips the hour. What the summaries cannot decide
//! (a `nil` equality, the other intrinsics) is `SpanTest::Any`.

use strata_engine::{
    AttrScope, AttrTest, CmpOp, KnownType, Number, SpanTest, StrTest, span_attribute_column,
};

use super::ast::{
    BinOp, Field, FieldExpr, Intrinsic, Pipeline, Scope, SpansetExpr, SpansetOp, Stage, Value,
};

/// A SQL condition on one row of `spans`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// The SQL text (`TRUE` when nothing can be checked).
    pub sql: String,
    /// Whether a row meets it exactly when the span matches.
    pub exact: bool,
    /// A test every row meeting `sql` meets, for the spans summaries.
    pub need: SpanTest,
}

impl Cond {
    fn t(exact: bool) -> Self {
        Self {
            sql: "TRUE".into(),
            exact,
            need: SpanTest::Any,
        }
    }

    /// `FALSE`, exact.
    fn never() -> Self {
        Self {
            sql: "FALSE".into(),
            exact: true,
            need: SpanTest::Never,
        }
    }

    fn exact(sql: String, need: SpanTest) -> Self {
        Self {
            sql,
            exact: true,
            need,
        }
    }

    /// Whether it lets every row through.
    pub fn is_true(&self) -> bool {
        self.sql == "TRUE"
    }

    fn and(a: Self, b: Self) -> Self {
        let exact = a.exact && b.exact;
        let (a_true, b_true) = (a.is_true(), b.is_true());
        let need = SpanTest::and(a.need, b.need);
        match (a_true, b_true) {
            (true, _) => Self {
                sql: b.sql,
                exact,
                need,
            },
            (_, true) => Self {
                sql: a.sql,
                exact,
                need,
            },
            _ => Self {
                sql: format!("({} AND {})", a.sql, b.sql),
                exact,
                need,
            },
        }
    }

    fn or(a: Self, b: Self) -> Self {
        let exact = a.exact && b.exact;
        if a.is_true() || b.is_true() {
            return Self::t(exact);
        }
        Self {
            sql: format!("({} OR {})", a.sql, b.sql),
            exact,
            need: SpanTest::or(a.need, b.need),
        }
    }

    /// How many conditions it holds (a guess at its selectivity).
    fn weight(&self) -> usize {
        if self.is_true() {
            0
        } else {
            self.sql.matches(" AND ").count() + 1
        }
    }
}

/// A SQL string literal.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A condition every span meets that makes a trace match `pipeline`'s first spanset
/// expression, so every matching trace has a span meeting it (exact when the query is a
/// single filter that SQL checks exactly).
pub fn trace_condition(p: &Pipeline) -> Cond {
    let first = match p.stages.first() {
        Some(Stage::Spanset(e)) => spanset(e),
        _ => Cond::t(false),
    };
    if p.stages.len() == 1 {
        first
    } else {
        Cond {
            exact: false,
            ..first
        }
    }
}

fn spanset(e: &SpansetExpr) -> Cond {
    match e {
        SpansetExpr::Filter(f) => filter(f),
        SpansetExpr::Pipeline(p) => trace_condition(p),
        SpansetExpr::Op(SpansetOp::Or, l, r) => Cond::or(spanset(l), spanset(r)),
        SpansetExpr::Op(op, l, r) => {
            // Both sides must match (And, the structural and union operators), or the
            // right one (the negated structural ones): one side's condition is necessary.
            let right = spanset(r);
            let not = matches!(
                op,
                SpansetOp::NotChild
                    | SpansetOp::NotParent
                    | SpansetOp::NotDescendant
                    | SpansetOp::NotAncestor
                    | SpansetOp::NotSibling
            );
            let pick = if not {
                right
            } else {
                let left = spanset(l);
                if left.weight() > right.weight() {
                    left
                } else {
                    right
                }
            };
            Cond {
                exact: false,
                ..pick
            }
        }
    }
}

/// The condition of a spanset filter's expression.
pub fn filter(e: &FieldExpr) -> Cond {
    match e {
        FieldExpr::Lit(Value::Bool(true)) => Cond::t(true),
        FieldExpr::Lit(Value::Bool(false)) => Cond::never(),
        FieldExpr::Binary(BinOp::And, l, r) => Cond::and(filter(l), filter(r)),
        FieldExpr::Binary(BinOp::Or, l, r) => Cond::or(filter(l), filter(r)),
        FieldExpr::Binary(op, l, r) => match (&**l, &**r) {
            (FieldExpr::Field(f), FieldExpr::Lit(v)) => compare(f, *op, v),
            (FieldExpr::Lit(v), FieldExpr::Field(f)) => match flip(*op) {
                Some(op) => compare(f, op, v),
                None => Cond::t(false),
            },
            _ => Cond::t(false),
        },
        FieldExpr::Regex {
            lhs,
            negated,
            pattern,
        } => match &**lhs {
            FieldExpr::Field(f) => regex(f, *negated, &pattern.text),
            _ => Cond::t(false),
        },
        _ => Cond::t(false),
    }
}

/// `op` with its operands swapped.
fn flip(op: BinOp) -> Option<BinOp> {
    Some(match op {
        BinOp::Eq | BinOp::Neq => op,
        BinOp::Lt => BinOp::Gt,
        BinOp::Lte => BinOp::Gte,
        BinOp::Gt => BinOp::Lt,
        BinOp::Gte => BinOp::Lte,
        _ => return None,
    })
}

/// `op` for the summaries' tests.
fn cmp_op(op: BinOp) -> CmpOp {
    match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::Neq => CmpOp::Ne,
        BinOp::Lt => CmpOp::Lt,
        BinOp::Lte => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

fn sql_op(op: BinOp) -> Option<&'static str> {
    Some(match op {
        BinOp::Eq => "=",
        BinOp::Neq => "<>",
        BinOp::Lt => "<",
        BinOp::Lte => "<=",
        BinOp::Gt => ">",
        BinOp::Gte => ">=",
        _ => return None,
    })
}

/// A number literal as SQL, if `v` is an int or float (finite).
fn number(v: &Value) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(format!("{f:?}")),
        _ => None,
    }
}

/// The maps an attribute of `scope` lives in.
fn maps(scope: Scope) -> (&'static str, &'static str) {
    match scope {
        Scope::Resource => ("resource_attributes", "resource_attribute_types"),
        Scope::Instrumentation => ("scope_attributes", "scope_attribute_types"),
        _ => ("attributes", "attribute_types"),
    }
}

/// The typed column an attribute may also live in.
fn column(scope: Scope, key: &str) -> Option<(&'static str, KnownType)> {
    match scope {
        Scope::Span => span_attribute_column(key),
        Scope::Resource if key == "service.name" => Some(("service_name", KnownType::String)),
        _ => None,
    }
}

fn compare(f: &Field, op: BinOp, v: &Value) -> Cond {
    let Some(o) = sql_op(op) else {
        return Cond::t(false);
    };
    match f {
        Field::Intrinsic(i) => intrinsic(*i, op, o, v),
        Field::Attr(Scope::Any, k) => Cond {
            exact: false,
            ..Cond::or(
                compare(&Field::Attr(Scope::Span, k.clone()), op, v),
                compare(&Field::Attr(Scope::Resource, k.clone()), op, v),
            )
        },
        Field::Attr(scope @ (Scope::Span | Scope::Resource | Scope::Instrumentation), k) => {
            attribute(*scope, k, op, o, v)
        }
        // Events, links and the parent live elsewhere than the row's maps: the in-memory
        // pass checks them.
        Field::Attr(..) => Cond::t(false),
    }
}

fn intrinsic(i: Intrinsic, op: BinOp, o: &str, v: &Value) -> Cond {
    let c = cmp_op(op);
    let col = match i {
        Intrinsic::Name => "name",
        Intrinsic::StatusMessage => "status_message",
        Intrinsic::ScopeName => "scope_name",
        Intrinsic::ScopeVersion => "scope_version",
        Intrinsic::Duration => {
            return match v {
                Value::Duration(d) | Value::Int(d) => Cond::exact(
                    format!("duration_ns {o} {d}"),
                    SpanTest::Duration(c, Number::Int(*d)),
                ),
                Value::Float(f) if f.is_finite() => Cond::exact(
                    format!("duration_ns {o} {:?}", f),
                    SpanTest::Duration(c, Number::Float(*f)),
                ),
                Value::Nil if op == BinOp::Eq => Cond::never(),
                Value::Nil => Cond::exact("TRUE".into(), SpanTest::Any),
                _ => Cond::never(),
            };
        }
        Intrinsic::Status | Intrinsic::Kind => {
            let (col, code) = match (i, v) {
                (Intrinsic::Status, Value::Status(s)) => ("status_code", s.code()),
                (Intrinsic::Kind, Value::Kind(k)) => ("kind", k.code()),
                _ => return Cond::t(false),
            };
            let need = if i == Intrinsic::Status {
                SpanTest::Status(c, code)
            } else {
                SpanTest::Kind(c, code)
            };
            return match op {
                BinOp::Eq | BinOp::Neq => Cond::exact(format!("{col} {o} {code}"), need),
                _ => Cond::t(false),
            };
        }
        _ => return Cond::t(false),
    };
    match v {
        Value::Str(s) => {
            let need = if i == Intrinsic::Name {
                SpanTest::Name(StrTest::Cmp(c, s.clone()))
            } else {
                SpanTest::Any
            };
            Cond::exact(format!("{col} {o} {}", quote(s)), need)
        }
        _ => Cond::t(false),
    }
}

/// The summaries' scope of an attribute scope.
fn attr_scope(scope: Scope) -> AttrScope {
    match scope {
        Scope::Resource => AttrScope::Resource,
        Scope::Instrumentation => AttrScope::Instrumentation,
        _ => AttrScope::Span,
    }
}

/// The summaries' test of attribute `k` of `scope` (`resource.service.name` as a string:
/// the `service_name` column, which the summaries key their services by).
fn attr_test(scope: Scope, k: &str, test: AttrTest) -> SpanTest {
    match test {
        AttrTest::Str(t) if scope == Scope::Resource && k == "service.name" => SpanTest::Service(t),
        test => SpanTest::Attr {
            scope: attr_scope(scope),
            key: k.to_owned(),
            test,
        },
    }
}

fn attribute(scope: Scope, k: &str, op: BinOp, o: &str, v: &Value) -> Cond {
    let (map, types) = maps(scope);
    let key = quote(k);
    let col = column(scope, k);
    let in_map = format!("{map}[{key}]");
    let type_of = format!("{types}[{key}]");
    let c = cmp_op(op);
    // The same test whether the value is read from the map or the column: the summaries
    // hold an attribute's values wherever they are stored.
    let need = match v {
        Value::Str(s) => attr_test(scope, k, AttrTest::Str(StrTest::Cmp(c, s.clone()))),
        Value::Int(i) => attr_test(scope, k, AttrTest::Num(c, Number::Int(*i))),
        Value::Float(f) if f.is_finite() => {
            attr_test(scope, k, AttrTest::Num(c, Number::Float(*f)))
        }
        Value::Bool(b) => attr_test(scope, k, AttrTest::Bool(c, *b)),
        // `!= nil`: the attribute is present (the `service_name` column always is).
        Value::Nil if col.is_some() && scope == Scope::Resource => SpanTest::Any,
        Value::Nil if op == BinOp::Neq => attr_test(scope, k, AttrTest::Present),
        _ => SpanTest::Any,
    };
    let map_cond = match v {
        Value::Str(s) => format!("({type_of} IS NULL AND {in_map} {o} {})", quote(s)),
        Value::Int(_) | Value::Float(_) => {
            let n = number(v).unwrap_or_default();
            format!("({type_of} IN ('int', 'double') AND TRY_CAST({in_map} AS DOUBLE) {o} {n})")
        }
        Value::Bool(b) if matches!(op, BinOp::Eq | BinOp::Neq) => {
            format!("({type_of} = 'bool' AND {in_map} {o} '{b}')")
        }
        Value::Nil => {
            let (null, join) = match op {
                BinOp::Eq => ("IS NULL", " AND "),
                BinOp::Neq => ("IS NOT NULL", " OR "),
                _ => return Cond::never(),
            };
            let mut parts = vec![format!("{in_map} {null}")];
            if let Some((c, _)) = col {
                parts.push(format!("{c} {null}"));
            }
            return Cond::exact(format!("({})", parts.join(join)), need);
        }
        // A status, kind or duration never equals an attribute's value; a bool has no order.
        Value::Status(_) | Value::Kind(_) | Value::Bool(_) => return Cond::never(),
        Value::Duration(_) => return Cond::t(false),
    };
    let col_cond = match (col, v) {
        (Some((c, KnownType::String)), Value::Str(s)) => Some(format!("{c} {o} {}", quote(s))),
        (Some((c, KnownType::Int)), Value::Int(_) | Value::Float(_)) => {
            Some(format!("{c} {o} {}", number(v).unwrap_or_default()))
        }
        _ => None,
    };
    // A value of the column's type is in the column (`service_name` holds the resource's
    // `service.name` when it is a string): the maps, costly to read, are not consulted.
    match col_cond {
        Some(c) => Cond::exact(c, need),
        None => Cond::exact(map_cond, need),
    }
}

fn regex(f: &Field, negated: bool, pattern: &str) -> Cond {
    let o = if negated { "!~" } else { "~" };
    let re = quote(&format!("^(?:{pattern})$"));
    // The summaries check the pattern against the few values they keep (as SQL would);
    // one the engine's regex cannot build is not checked.
    let test = StrTest::regex(pattern, negated);
    let col = match f {
        Field::Intrinsic(Intrinsic::Name) => {
            let need = test.map_or(SpanTest::Any, SpanTest::Name);
            return Cond::exact(format!("name {o} {re}"), need);
        }
        Field::Intrinsic(Intrinsic::StatusMessage) => "status_message",
        Field::Intrinsic(Intrinsic::ScopeName) => "scope_name",
        Field::Intrinsic(Intrinsic::ScopeVersion) => "scope_version",
        Field::Attr(scope @ (Scope::Span | Scope::Resource | Scope::Instrumentation), k) => {
            let (map, types) = maps(*scope);
            let key = quote(k);
            let map_cond = format!("({types}[{key}] IS NULL AND {map}[{key}] {o} {re})");
            let need = test.map_or(SpanTest::Any, |t| attr_test(*scope, k, AttrTest::Str(t)));
            return match column(*scope, k) {
                Some((c, KnownType::String)) => Cond::exact(format!("{c} {o} {re}"), need),
                _ => Cond::exact(map_cond, need),
            };
        }
        Field::Attr(Scope::Any, k) => {
            let span = regex(&Field::Attr(Scope::Span, k.clone()), negated, pattern);
            let res = regex(&Field::Attr(Scope::Resource, k.clone()), negated, pattern);
            return Cond {
                exact: false,
                ..Cond::or(span, res)
            };
        }
        _ => return Cond::t(false),
    };
    Cond::exact(format!("{col} {o} {re}"), SpanTest::Any)
}
