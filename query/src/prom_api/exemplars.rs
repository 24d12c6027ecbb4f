//! `/api/v1/query_exemplars`: the exemplars of the series a PromQL expression selects, in
//! Prometheus's JSON (`[{"seriesLabels":{...},"exemplars":[{"labels":{...},"value":"6",
//! "timestamp":1600096945.479}]}]`).
//!
//! As Prometheus: `start` and `end` default to all time; the series are those any of the
//! expression's vector and matrix selectors matches (`parser.ExtractSelectors`); an
//! expression without a selector gives `"data":null`.

use promql_parser::parser::Expr;
use strata_engine::{Engine, TenantId};

use super::endpoints::PromApi;
use super::error::{ApiError, Result};
use super::json;
use super::params::{MAX_TIME_MS, MIN_TIME_MS, Params, Time, engine_matchers, time_param};
use super::response::{Response, Success};
use crate::promql::{self, Labels, selector_matchers};

impl PromApi {
    /// `/api/v1/query_exemplars`: `query`, `start`, `end`.
    pub fn query_exemplars(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        query_exemplars(engine, tenant, Params::new(params)).into()
    }
}

fn query_exemplars(engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<Success> {
    let start = time_param(&p, "start", Time::from_ms(MIN_TIME_MS))?;
    let end = time_param(&p, "end", Time::from_ms(MAX_TIME_MS))?;
    if end.ms() < start.ms() {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start timestamp",
        ));
    }
    let expr = promql::parse(p.value("query")).map_err(|e| ApiError::BadData(e.to_string()))?;
    let mut selectors = Vec::new();
    extract_selectors(&expr, &mut selectors);
    if selectors.is_empty() {
        return Ok(Success {
            data: "null".into(),
            ..Success::default()
        });
    }
    let selectors = selectors
        .iter()
        .map(|set| engine_matchers(set))
        .collect::<Result<Vec<_>>>()?;
    let found = engine
        .select_exemplars(tenant, &selectors, start.ms(), end.ms())
        .map_err(ApiError::from_engine)?;
    let mut out = String::from("[");
    for (i, s) in found.iter().filter(|s| !s.exemplars.is_empty()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        let series =
            Labels::from_pairs(s.series.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        json::labels(&mut out, &series);
        out.push_str(",\"exemplars\":[");
        for (j, e) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            let labels = Labels::from_pairs(e.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            json::labels(&mut out, &labels);
            out.push_str(",\"value\":");
            json::sample_value(&mut out, e.value);
            out.push_str(",\"timestamp\":");
            json::timestamp(&mut out, e.ts);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(Success {
        data: out,
        ..Success::default()
    })
}

/// The matchers of every vector selector in `expr` (a matrix selector's included), as
/// Prometheus's `parser.ExtractSelectors`.
fn extract_selectors(expr: &Expr, out: &mut Vec<Vec<promql::LabelMatcher>>) {
    match expr {
        Expr::VectorSelector(vs) => out.push(selector_matchers(vs)),
        Expr::MatrixSelector(ms) => out.push(selector_matchers(&ms.vs)),
        Expr::Aggregate(a) => {
            extract_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                extract_selectors(p, out);
            }
        }
        Expr::Unary(u) => extract_selectors(&u.expr, out),
        Expr::Binary(b) => {
            extract_selectors(&b.lhs, out);
            extract_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => extract_selectors(&p.expr, out),
        Expr::Subquery(s) => extract_selectors(&s.expr, out),
        Expr::Call(c) => {
            for a in &c.args.args {
                extract_selectors(a, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &str) -> Vec<String> {
        let mut out = Vec::new();
        extract_selectors(&promql::parse(q).unwrap(), &mut out);
        out.iter()
            .map(|set| {
                set.iter()
                    .map(|m| format!("{}{:?}{}", m.name, m.op, m.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    #[test]
    fn selectors_come_from_every_part_of_the_expression() {
        let got = names(
            r#"histogram_quantile(0.9, sum by (le) (rate(a_bucket{job="x"}[5m]))) / on() b + 1"#,
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("__name__Equala_bucket") && got[0].contains("jobEqualx"),
            "{got:?}"
        );
        assert!(got[1].contains("__name__Equalb"), "{got:?}");
        assert!(names("1 + 2").is_empty());
        assert_eq!(names("topk(3, max_over_time(c[1m:10s]))").len(), 1);
    }
}
