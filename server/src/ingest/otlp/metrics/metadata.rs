//! The metric metadata of OTLP metrics, as Prometheus's OTLP translator gives it
//! (derived from prometheus/storage/remote/otlptranslator/prometheusremotewrite/
//! metrics_to_prw.go and otlp_to_openmetrics_metadata.go): under the translated family
//! name, the type from the OTLP data type, the description as help, and the unit as
//! Prometheus's `UnitNamer` builds it (`s` is `seconds`, `By/s` is `bytes_per_second`,
//! `1` and `{annotations}` are empty). `target_info` is a gauge with help "Target
//! metadata".

use strata_engine::{FamilyMetadata, Metadata, MetricType};

use super::names::{MetricKind, unit_suffixes_clean};
use super::translate::Builder;

impl Builder {
    /// Adds the metadata of a metric that made series named `family`, once per request.
    pub(super) fn add_metadata(&mut self, family: &str, kind: MetricKind, help: &str, unit: &str) {
        let m = Metadata {
            kind: metric_type(kind),
            help: help.to_owned(),
            unit: unit_name(unit),
        };
        self.push_metadata(family, m);
    }

    /// `target_info`'s metadata.
    pub(super) fn add_target_info_metadata(&mut self) {
        let m = Metadata {
            kind: MetricType::Gauge,
            help: "Target metadata".into(),
            unit: String::new(),
        };
        self.push_metadata("target_info", m);
    }

    fn push_metadata(&mut self, family: &str, m: Metadata) {
        if self.metadata_seen.insert((family.to_owned(), m.clone())) {
            self.out.metadata.push(FamilyMetadata {
                family: family.to_owned(),
                metadata: m,
            });
        }
    }
}

/// Prometheus's type of an OTLP metric (cumulative: delta ones are refused before).
fn metric_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Gauge | MetricKind::NonMonotonicCounter => MetricType::Gauge,
        MetricKind::MonotonicCounter => MetricType::Counter,
        MetricKind::Histogram => MetricType::Histogram,
        MetricKind::Summary => MetricType::Summary,
    }
}

/// The unit as Prometheus's `UnitNamer.Build` writes it: the main and `per_` words
/// cleaned, joined by `_`, one leading and one trailing `_` dropped.
pub(crate) fn unit_name(unit: &str) -> String {
    let (main, per) = unit_suffixes_clean(unit);
    let mut u = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    if u.starts_with('_') {
        u.remove(0);
    }
    if u.ends_with('_') {
        u.pop();
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_prometheus_names_them() {
        // Expected words from prometheus/otlptranslator's unitMap and perUnitMap
        // (unit_namer.go).
        for (unit, want) in [
            ("", ""),
            ("s", "seconds"),
            ("ms", "milliseconds"),
            ("By", "bytes"),
            ("By/s", "bytes_per_second"),
            ("1", ""),
            ("{requests}", ""),
            ("{requests}/s", "per_second"),
            ("m/s", "meters_per_second"),
            ("%", "percent"),
        ] {
            assert_eq!(unit_name(unit), want, "{unit:?}");
        }
    }
}
