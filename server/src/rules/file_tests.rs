use std::path::Path;
use std::time::Duration;

use super::*;

fn check(text: &str) -> Result<RuleFile, RulesError> {
    parse(Path::new("rules.yml"), text, Lang::Promql)
}

fn problems(text: &str) -> Vec<String> {
    match check(text) {
        Ok(_) => panic!("expected problems"),
        Err(RulesError::File { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn reads_prometheus_rule_files() {
    let f = check(
        r#"
groups:
  - name: api
    interval: 30s
    limit: 10
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
        labels:
          team: web
      - alert: HighErrorRate
        expr: job:http_requests:rate5m > 0.5
        for: 10m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value | humanizePercentage }}"
  - name: empty
    rules: []
"#,
    )
    .expect("a valid file");
    assert_eq!(f.groups.len(), 2);
    let g = &f.groups[0];
    assert_eq!(
        (g.name.as_str(), g.interval, g.limit),
        ("api", Some(Duration::from_secs(30)), 10)
    );
    assert_eq!(
        g.rules[0].kind,
        RuleKind::Record("job:http_requests:rate5m".into())
    );
    assert_eq!(g.rules[0].labels["team"], "web");
    assert_eq!(g.rules[0].line, 7);
    let alert = &g.rules[1];
    assert_eq!(alert.kind, RuleKind::Alert("HighErrorRate".into()));
    assert_eq!(alert.hold, Duration::from_secs(600));
    assert_eq!(alert.keep_firing_for, Duration::from_secs(60));
    assert_eq!(alert.line, 11);
    assert_eq!(f.groups[1].interval, None);
}

#[test]
fn an_empty_file_has_no_groups() {
    assert!(check("").expect("empty").groups.is_empty());
    assert!(
        check("# nothing yet\n")
            .expect("comments")
            .groups
            .is_empty()
    );
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let p = problems(
        r#"groups:
  - name: g
    rules:
      - record: "bad name"
        expr: up
      - alert: A
        expr: rate(up[5m]
      - record: r
        expr: up
        for: 5m
        annotations:
          a: b
      - expr: up
      - alert: B
        expr: up
        for: 5 minutes
        labels:
          __name__: x
          "bad-label": y
  - name: g
    rules: []
"#,
    );
    let want = [
        "line 4: group \"g\", rule 1, \"bad name\": invalid recording rule name: bad name",
        "line 6: group \"g\", rule 2, \"A\": could not parse expression:",
        "line 8: group \"g\", rule 3, \"r\": invalid field 'annotations' in recording rule",
        "line 8: group \"g\", rule 3, \"r\": invalid field 'for' in recording rule",
        "line 13: group \"g\", rule 4, \"\": one of 'record' or 'alert' must be set",
        "line 14: group \"g\", rule 5, \"B\": invalid label name: __name__",
        "line 14: group \"g\", rule 5, \"B\": invalid label name: bad-label",
        "line 14: group \"g\", rule 5, \"B\": for: not a valid duration string",
        "line 20: group \"g\": group name \"g\" is repeated in the same file (first at line 2)",
    ];
    for w in want {
        assert!(
            p.iter().any(|l| l.starts_with(w)),
            "missing {w:?} in {p:#?}"
        );
    }
    assert_eq!(p.len(), want.len(), "{p:#?}");
}

#[test]
fn yaml_errors_name_the_line_and_the_key() {
    let p = problems("groups:\n  - name: g\n    rules:\n      - record: r\n        exp: up\n");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].contains("line 5") && p[0].contains("unknown field `exp`"),
        "{p:?}"
    );
    let err = check("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n")
        .map(|f| f.groups[0].rules.len());
    assert_eq!(err.expect("valid"), 1);
}

#[test]
fn the_file_is_named_in_every_message() {
    let e = check("groups:\n  - name: ''\n").expect_err("empty name");
    assert_eq!(
        e.to_string(),
        "rules.yml: line 2: group \"\": group name must not be empty"
    );
}

#[test]
fn logql_files_need_metric_queries() {
    let text = |expr: &str| {
        format!(
            "groups:\n  - name: logs\n    rules:\n      - alert: Errors\n        expr: '{expr}'\n"
        )
    };
    let ok = parse(
        Path::new("loki.yml"),
        &text(r#"sum(rate({app="api"} |= "error" [5m])) > 1"#),
        Lang::Logql,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let log = parse(
        Path::new("loki.yml"),
        &text(r#"{app="api"} |= "error""#),
        Lang::Logql,
    )
    .expect_err("a log query");
    assert!(log.to_string().contains("needs a metric query"), "{log}");
    // A LogQL expression is not PromQL.
    assert!(
        parse(
            Path::new("p.yml"),
            &text(r#"{app="api"} |= "x""#),
            Lang::Promql
        )
        .is_err()
    );
}

#[test]
fn durations_are_prometheus_durations() {
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("1d2h"), Ok(Duration::from_secs(93_600)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(
        parse_duration("1m30s500ms"),
        Ok(Duration::from_millis(90_500))
    );
    assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
    for bad in ["", "5", "5 m", "1m1h", "1.5h", "m", "1h1h"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
    }
}
