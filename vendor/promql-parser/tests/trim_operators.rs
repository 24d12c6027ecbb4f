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

//! The trim operators `</` (TRIM_UPPER) and `>/` (TRIM_LOWER) of Prometheus 3
//! (promql/parser/lex.go, generated_parser.y): binary operators with the precedence of the
//! comparison operators, not comparisons themselves (no `bool`). The inputs come from
//! Prometheus's promql/promqltest/testdata/native_histograms.test.

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, token, Expr};

fn binary(q: &str) -> parser::BinaryExpr {
    match parser::parse(q) {
        Ok(Expr::Binary(b)) => b,
        other => panic!("{q}: expected a binary expression, got {other:?}"),
    }
}

fn name(e: &Expr) -> String {
    match e {
        Expr::VectorSelector(vs) => vs.name.clone().unwrap_or_default(),
        other => panic!("expected a vector selector, got {other:?}"),
    }
}

#[test]
fn both_operators_parse_with_a_float_operand() {
    for (q, op, rhs) in [
        ("h_test </ 2", token::T_TRIM_UPPER, 2.0),
        ("h_test >/ 2", token::T_TRIM_LOWER, 2.0),
        ("h_test>/-1.3", token::T_TRIM_LOWER, -1.3),
        ("h_test </ +Inf", token::T_TRIM_UPPER, f64::INFINITY),
        ("h_test >/ -Inf", token::T_TRIM_LOWER, f64::NEG_INFINITY),
    ] {
        let b = binary(q);
        assert_eq!(b.op.id(), op, "{q}");
        assert_eq!(name(&b.lhs), "h_test", "{q}");
        match *b.rhs {
            Expr::NumberLiteral(n) => assert_eq!(n.val, rhs, "{q}"),
            // `-1.3`, `+Inf`, `-Inf` may stay unary expressions.
            Expr::Unary(ref u) => match *u.expr {
                Expr::NumberLiteral(ref n) => assert_eq!(-n.val, rhs, "{q}"),
                ref other => panic!("{q}: unexpected operand {other:?}"),
            },
            ref other => panic!("{q}: unexpected operand {other:?}"),
        }
    }
}

#[test]
fn display_round_trips() {
    for q in [
        "h_test </ 2",
        "h_test >/ 2",
        "cbh_for_join >/ on (label) float_for_join",
    ] {
        let shown = binary(q).to_string();
        assert_eq!(
            parser::parse(&shown).map(|e| e.to_string()),
            Ok(shown.clone())
        );
        assert!(shown.contains("</") || shown.contains(">/"), "{shown}");
    }
    assert_eq!(binary("a </ 2").to_string(), "a </ 2");
    assert_eq!(binary("a >/ 2").to_string(), "a >/ 2");
}

#[test]
fn vector_matching_applies() {
    let b = binary("cbh_for_join >/ on (label) float_for_join");
    assert_eq!(b.op.id(), token::T_TRIM_LOWER);
    assert_eq!(name(&b.rhs), "float_for_join");
    let m = b.modifier.expect("on(label) gives a modifier");
    match m.matching {
        Some(parser::LabelModifier::Include(l)) => assert_eq!(l.labels, vec!["label"]),
        other => panic!("expected on(label), got {other:?}"),
    }
}

#[test]
fn precedence_is_the_comparison_operators() {
    // Tighter than `and`, looser than `+` and `*`, left-associative with comparisons.
    let b = binary("a </ 1 + 2");
    assert_eq!(b.op.id(), token::T_TRIM_UPPER);
    assert!(matches!(*b.rhs, Expr::Binary(ref r) if r.op.id() == token::T_ADD));

    let b = binary("a >/ 2 * 3");
    assert_eq!(b.op.id(), token::T_TRIM_LOWER);
    assert!(matches!(*b.rhs, Expr::Binary(ref r) if r.op.id() == token::T_MUL));

    let b = binary("a </ 1 and b");
    assert_eq!(b.op.id(), token::T_LAND);
    assert!(matches!(*b.lhs, Expr::Binary(ref l) if l.op.id() == token::T_TRIM_UPPER));

    let b = binary("a </ 1 >/ 0");
    assert_eq!(b.op.id(), token::T_TRIM_LOWER);
    assert!(matches!(*b.lhs, Expr::Binary(ref l) if l.op.id() == token::T_TRIM_UPPER));

    let b = binary("a > 1 </ 5");
    assert_eq!(b.op.id(), token::T_TRIM_UPPER);
    assert!(matches!(*b.lhs, Expr::Binary(ref l) if l.op.id() == token::T_GTR));
}

#[test]
fn bool_is_refused_and_comparisons_are_unchanged() {
    let err = parser::parse("a </ bool 2").expect_err("bool on a trim operator");
    assert!(
        err.contains("bool modifier can only be used on comparison operators"),
        "{err}"
    );
    // `<` and `>` followed by a space and `/` stay what they were.
    assert_eq!(binary("a < 2").op.id(), token::T_LSS);
    assert_eq!(binary("a <= 2").op.id(), token::T_LTE);
    assert_eq!(binary("a >= 2").op.id(), token::T_GTE);
    assert!(parser::parse("a < / 2").is_err());
    // Inside braces the characters are still refused.
    assert!(parser::parse(r#"a{b</"c"}"#).is_err());
    let vs = match parser::parse(r#"a{b="</"}"#) {
        Ok(Expr::VectorSelector(vs)) => vs,
        other => panic!("expected a selector, got {other:?}"),
    };
    let m = vs.matchers.find_matchers("b");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].value, "</");
    assert_eq!(m[0].op, MatchOp::Equal);
}
