//! Token buckets: the per-tenant ingest rates of samples, spans and log records.

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    tokens: f64,
    last_ms: i64,
}

impl TokenBucket {
    pub(crate) fn full(burst: f64, now_ms: i64) -> Self {
        Self {
            tokens: burst,
            last_ms: now_ms,
        }
    }

    /// Refills, then returns how many whole tokens there are (taking none).
    pub(crate) fn available(&mut self, now_ms: i64, rate: f64, burst: f64) -> u64 {
        self.take(0, now_ms, rate, burst);
        self.tokens.floor().max(0.0) as u64
    }

    /// Takes up to `n` tokens; returns how many it got.
    pub(crate) fn take(&mut self, n: u64, now_ms: i64, rate: f64, burst: f64) -> u64 {
        let elapsed = now_ms.saturating_sub(self.last_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + rate * elapsed).min(burst);
        self.last_ms = self.last_ms.max(now_ms);
        let got = (n as f64).min(self.tokens.floor()).max(0.0);
        self.tokens -= got;
        got as u64
    }

    /// Returns `n` unused tokens taken by [`TokenBucket::take`].
    pub(crate) fn give_back(&mut self, n: u64, burst: f64) {
        self.tokens = (self.tokens + n as f64).min(burst);
    }
}
