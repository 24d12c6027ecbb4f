//! PromQL under a memory budget: a long window is read newest hour first (when less than
//! 512 MiB of the share is left) and gives the same answer as one read; a query far over its share is refused having read that hour only,
//! with the error naming the limit.

use std::sync::Mutex;

use strata_query::memory::{QueryBudget, QueryMemory};
use strata_query::promql::{
    Error, LabelMatcher, Labels, PromqlEngine, QueryOptions, Result, SeriesSource, SourceSeries,
    Value,
};

/// 200 series of a counter, one sample every 15 s for 6 h; counts the samples it serves.
struct Counters {
    series: Vec<SourceSeries>,
    served: Mutex<usize>,
}

const HOUR: i64 = 3_600_000;

impl Counters {
    fn new() -> Self {
        let series = (0..200)
            .map(|s| SourceSeries {
                labels: Labels::from_pairs([
                    ("__name__".to_owned(), "req_total".to_owned()),
                    ("instance".to_owned(), format!("host-{s:03}")),
                ]),
                samples: (0..6 * 240)
                    .map(|i| (i * 15_000, (i * (s + 1)) as f64))
                    .collect(),
                histograms: Vec::new(),
            })
            .collect();
        Self {
            series,
            served: Mutex::new(0),
        }
    }
}

impl SeriesSource for Counters {
    fn select(&self, _: &[LabelMatcher], start: i64, end: i64) -> Result<Vec<SourceSeries>> {
        let out: Vec<SourceSeries> = self
            .series
            .iter()
            .map(|s| SourceSeries {
                labels: s.labels.clone(),
                samples: s
                    .samples
                    .iter()
                    .copied()
                    .filter(|(t, _)| (start..=end).contains(t))
                    .collect(),
                histograms: Vec::new(),
            })
            .collect();
        *self.served.lock().expect("lock") += out.iter().map(|s| s.samples.len()).sum::<usize>();
        Ok(out)
    }
}

fn range(engine: &PromqlEngine, src: &Counters, q: &str) -> Result<Value> {
    engine
        .range(src, q, HOUR, 6 * HOUR - 15_000, 60_000)
        .map(|r| r.value)
}

#[test]
fn a_long_window_read_in_slices_answers_as_one_read() {
    for q in [
        "sum(rate(req_total[5m]))",
        "req_total",
        "max_over_time(req_total[3h])",
    ] {
        let src = Counters::new();
        let plain = range(&PromqlEngine::new(QueryOptions::default()), &src, q).expect(q);
        // Under 512 MiB left: the window is read in slices.
        let budget = QueryBudget::standalone(256 << 20);
        let sliced = PromqlEngine::new(QueryOptions::default()).with_memory(budget);
        assert_eq!(range(&sliced, &src, q).expect(q), plain, "{q}");
    }
}

#[test]
fn a_query_far_over_its_share_is_refused_after_one_slice() {
    let src = Counters::new();
    let pool = QueryMemory::new(1 << 20, 1 << 20);
    let engine = PromqlEngine::new(QueryOptions::default()).with_memory(pool.query());
    let err = range(&engine, &src, "sum(rate(req_total[5m]))").expect_err("over 1 MiB");
    assert!(matches!(err, Error::OverMemory(_)), "{err}");
    assert!(err.to_string().contains("server.memory_limit"), "{err}");
    // The newest hour only: 200 series x 240 samples.
    assert_eq!(*src.served.lock().expect("lock"), 200 * 240);
    assert_eq!(pool.used(), 0, "everything given back");
    assert_eq!(pool.refused(), 1);
}
