//! The checks of one exemplar that need no state: its labels and its trace id.

use crate::model::exemplar::{
    Exemplar, ExemplarReject, MAX_EXEMPLAR_LABELS_CHARS, TRACE_ID_LABEL, valid_trace_id,
};

/// Why `e` cannot be stored whatever its series holds, with a message; `None` if it can.
pub(crate) fn stateless(e: &Exemplar, cutoff_ms: i64) -> Option<(ExemplarReject, String)> {
    if let Some(id) = e.label(TRACE_ID_LABEL)
        && !valid_trace_id(id)
    {
        return Some((
            ExemplarReject::BadTraceId,
            format!("trace_id {id:?} is not 32 hex digits (16 bytes)"),
        ));
    }
    let chars: usize = e
        .labels
        .iter()
        .map(|(n, v)| n.chars().count() + v.chars().count())
        .sum();
    if chars > MAX_EXEMPLAR_LABELS_CHARS {
        return Some((
            ExemplarReject::BadLabels,
            format!(
                "exemplar labels hold {chars} characters, over the limit of \
                 {MAX_EXEMPLAR_LABELS_CHARS}"
            ),
        ));
    }
    let mut names: Vec<&str> = e.labels.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if names.first().is_some_and(|n| n.is_empty()) || names.windows(2).any(|w| w[0] == w[1]) {
        return Some((
            ExemplarReject::BadLabels,
            "exemplar label with an empty or repeated name".into(),
        ));
    }
    if e.ts < cutoff_ms {
        return Some((
            ExemplarReject::OutOfRetention,
            format!(
                "exemplar at {} ms is older than the metrics retention",
                e.ts
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(labels: &[(&str, &str)], ts: i64) -> Exemplar {
        Exemplar {
            labels: labels
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
            ts,
            value: 1.0,
        }
    }

    #[test]
    fn trace_ids_must_be_32_hex_digits() {
        let good = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert!(stateless(&ex(&[("trace_id", good)], 10), 0).is_none());
        assert!(stateless(&ex(&[("trace_id", &good.to_uppercase())], 10), 0).is_none());
        for bad in [
            "",
            "4bf92f3577b34da6",
            "zz",
            &format!("{good}00"),
            "4bf92f3577b34da6a3ce929d0e0e473g",
        ] {
            let got = stateless(&ex(&[("trace_id", bad)], 10), 0).map(|r| r.0);
            assert_eq!(got, Some(ExemplarReject::BadTraceId), "{bad:?}");
        }
    }

    #[test]
    fn long_or_repeated_labels_and_old_exemplars_are_refused() {
        let long = "x".repeat(129);
        let got = stateless(&ex(&[("a", &long)], 10), 0).map(|r| r.0);
        assert_eq!(got, Some(ExemplarReject::BadLabels));
        let got = stateless(&ex(&[("a", "1"), ("a", "2")], 10), 0).map(|r| r.0);
        assert_eq!(got, Some(ExemplarReject::BadLabels));
        let got = stateless(&ex(&[], 10), 11).map(|r| r.0);
        assert_eq!(got, Some(ExemplarReject::OutOfRetention));
    }
}
