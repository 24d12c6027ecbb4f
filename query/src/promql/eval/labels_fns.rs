//! Functions that work on labels and order: `label_replace`, `label_join`, `sort*`.

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::{Evaluator, Val};
use crate::promql::error::{Result, exec};
use crate::promql::value::{METRIC_NAME, Sample};

fn string_arg(e: Option<&&Expr>) -> Result<String> {
    match e.map(|e| super::unparen(e)) {
        Some(Expr::StringLiteral(s)) => Ok(s.val.clone()),
        _ => exec("expected a string literal argument"),
    }
}

/// Whether `name` is a valid label name (any non-empty UTF-8, as in Prometheus 3).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// The [`crate::promql::label_cache::LabelCache`] site of call `c`'s relabelling: its address
/// (one per call; the fixed sites are small numbers no call is at).
fn site(c: &Call) -> usize {
    c as *const Call as usize
}

/// `label_replace(v, dst, replacement, src, regex)` (call `c`).
///
/// A series' new labels are computed once per query (the label cache keeps them across
/// steps), and an output holding one label set twice fails, as in Prometheus (whatever the
/// name-removal mode: a name still to be dropped counts).
pub(crate) fn label_replace(
    ev: &mut Evaluator<'_>,
    c: &Call,
    args: &[&Expr],
    t: i64,
) -> Result<Val> {
    let dst = string_arg(args.get(1))?;
    let repl = string_arg(args.get(2))?;
    let src = string_arg(args.get(3))?;
    let re_str = string_arg(args.get(4))?;
    let Ok(re) = Regex::new(&format!("^(?s:{re_str})$")) else {
        return exec(format!(
            "invalid regular expression in label_replace(): {re_str}"
        ));
    };
    if !valid_label_name(&dst) {
        return exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    let Some(first) = args.first() else {
        return exec("label_replace needs a vector argument");
    };
    let v = ev.eval_vector(first, t)?;
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        // Setting the name keeps it (a name to be dropped becomes one to keep).
        if dst == METRIC_NAME && re.is_match(s.labels.get(&src)) {
            s.drop_name = false;
        }
        s.labels = ev.labels.derive(site(c), &s.labels, |l| {
            let replaced = re.captures(l.get(&src)).map(|caps| {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                res
            });
            let mut l = l.clone();
            if let Some(res) = replaced {
                l.set(dst.clone(), res);
            }
            l
        });
        out.push(s);
    }
    ev.check_unique(&out)?;
    Ok(Val::Vector(out))
}

/// `label_join(v, dst, separator, src...)` (call `c`), its labels computed and checked as
/// [`label_replace`]'s.
pub(crate) fn label_join(ev: &mut Evaluator<'_>, c: &Call, args: &[&Expr], t: i64) -> Result<Val> {
    let dst = string_arg(args.get(1))?;
    let sep = string_arg(args.get(2))?;
    let mut srcs = Vec::new();
    for a in args.iter().skip(3) {
        let s = string_arg(Some(a))?;
        if !valid_label_name(&s) {
            return exec(format!("invalid source label name in label_join(): {s}"));
        }
        srcs.push(s);
    }
    if !valid_label_name(&dst) {
        return exec(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    let Some(first) = args.first() else {
        return exec("label_join needs a vector argument");
    };
    let v = ev.eval_vector(first, t)?;
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        s.labels = ev.labels.derive(site(c), &s.labels, |l| {
            let joined = srcs.iter().map(|n| l.get(n)).collect::<Vec<_>>().join(&sep);
            let mut l = l.clone();
            l.set(dst.clone(), joined);
            l
        });
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    ev.check_unique(&out)?;
    Ok(Val::Vector(out))
}

/// `sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`.
pub(crate) fn sort(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], t: i64) -> Result<Val> {
    let Some(first) = args.first() else {
        return exec(format!("{name} needs a vector argument"));
    };
    if ev.start != ev.end {
        let pos = ev.arg_position(name, None);
        ev.warn(format!(
            "sort is ineffective for range queries since results are always ordered by labels{pos}"
        ));
    }
    let mut v: Vec<Sample> = ev.eval_vector(first, t)?;
    match name {
        "sort" | "sort_desc" => {
            // Prometheus sorts floats only (`filterFloats`).
            v.retain(|s| s.h.is_none());
            let desc = name == "sort_desc";
            v.sort_by(|a, b| {
                use std::cmp::Ordering::*;
                match (a.value.is_nan(), b.value.is_nan()) {
                    (true, true) => Equal,
                    (true, false) => Greater,
                    (false, true) => Less,
                    _ => {
                        let o = a.value.partial_cmp(&b.value).unwrap_or(Equal);
                        if desc { o.reverse() } else { o }
                    }
                }
            });
        }
        _ => {
            let mut names = Vec::new();
            for a in &args[1..] {
                names.push(string_arg(Some(a))?);
            }
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for n in &names {
                    let (x, y) = (a.labels.get(n), b.labels.get(n));
                    if x != y {
                        let o = natural_cmp(x, y);
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.cmp(&b.labels);
                if desc { o.reverse() } else { o }
            });
        }
    }
    Ok(Val::Vector(v))
}

/// Natural ordering: runs of digits compare by number.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = dx.iter().skip_while(|c| **c == b'0').count();
                let ty = dy.iter().skip_while(|c| **c == b'0').count();
                let o = tx.cmp(&ty).then_with(|| dx[nx - tx..].cmp(&dy[ny - ty..]));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}
