//! Writers of the Prometheus text exposition format shared by every self-metrics renderer:
//! family headers, sample lines, histograms, label value escaping.

use std::fmt::Write as _;

/// The `_bucket`, `_sum` and `_count` lines of one histogram. `buckets` holds cumulative
/// counts by upper bound; `extra` is one more label (`("", "")` for none).
pub(crate) fn histogram(
    o: &mut String,
    name: &str,
    extra: (&str, &str),
    buckets: impl Iterator<Item = (f64, u64)>,
    count: u64,
    sum: f64,
) {
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(2);
    if !extra.0.is_empty() {
        labels.push(extra);
    }
    let bucket = format!("{name}_bucket");
    for (le, n) in buckets {
        let le = le.to_string();
        let mut with_le = labels.clone();
        with_le.push(("le", &le));
        line(o, &bucket, &with_le, n as f64);
    }
    let mut inf = labels.clone();
    inf.push(("le", "+Inf"));
    line(o, &bucket, &inf, count as f64);
    line(o, &format!("{name}_sum"), &labels, sum);
    line(o, &format!("{name}_count"), &labels, count as f64);
}

/// The `# HELP` and `# TYPE` lines of metric family `name`.
pub(crate) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample line: `name{labels} value`, label values escaped, infinities spelled as the
/// text format spells them.
pub(crate) fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    if value.is_infinite() {
        // The text format's spelling.
        out.push_str(if value > 0.0 { " +Inf\n" } else { " -Inf\n" });
    } else {
        let _ = writeln!(out, " {value}");
    }
}

/// Escapes a label value for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
