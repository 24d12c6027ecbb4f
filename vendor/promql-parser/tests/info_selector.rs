// Copyright 2026 Greptime Team
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! The label selector of `info()` (Prometheus's promql/promqltest/testdata/info.test and
//! the info checks of promql/parser/parse.go).

use promql_parser::parser;

#[test]
fn info_label_selector_may_match_empty() {
    for q in [
        r#"info(metric, {data=~".*"})"#,
        r#"info(metric, {__name__!~".+_info", data=~".*"})"#,
        r#"info(metric, {data=~".+"})"#,
        "info(metric)",
    ] {
        assert!(parser::parse(q).is_ok(), "{q}");
    }
}

#[test]
fn empty_selectors_are_still_refused_elsewhere() {
    for q in [
        r#"{data=~".*"}"#,
        r#"rate({a=""}[5m])"#,
        r#"info({data=~".*"})"#,
        r#"sum(info(metric, {data=~".*"})) + {x=~".*"}"#,
    ] {
        let err = parser::parse(q).expect_err(q);
        assert_eq!(
            err, "vector selector must contain at least one non-empty matcher",
            "{q}"
        );
    }
}

#[test]
fn info_second_argument_is_a_label_selector() {
    assert_eq!(
        parser::parse("info(metric, target_info)"),
        Err("expected label selectors only, got vector selector instead".into())
    );
    assert_eq!(
        parser::parse("info(metric, sum(x))"),
        Err("expected label selectors only".into())
    );
}
