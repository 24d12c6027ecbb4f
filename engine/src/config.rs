//! Engine configuration.

use std::time::Duration;

use strata_wal::WalOptions;

use crate::{Error, Result};

/// Per-tenant limits checked on every write. Defaults follow Prometheus's and the brief's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most labels a series may have, `__name__` included. Default 30.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes. Default 1024.
    pub max_label_name_len: usize,
    /// Longest label value in bytes. Default 2048.
    pub max_label_value_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_labels_per_series: 30,
            max_label_name_len: 1024,
            max_label_value_len: 2048,
        }
    }
}

/// Configuration of an [`crate::Engine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The write-ahead log's options; its durability decides when a write returns.
    pub wal: WalOptions,
    /// How far behind a series' newest sample a sample may be and still be accepted.
    /// Default 1 h.
    pub out_of_order_window: Duration,
    /// Limits applied to every tenant.
    pub limits: Limits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            wal: WalOptions::default(),
            out_of_order_window: Duration::from_secs(3600),
            limits: Limits::default(),
        }
    }
}

impl EngineConfig {
    /// Rejects values that cannot work, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key, reason: &str| {
            Err(Error::InvalidConfig {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.limits.max_labels_per_series == 0 {
            return bad(
                "limits.max_labels_per_series",
                "must be at least 1 (for __name__)",
            );
        }
        if self.limits.max_label_name_len == 0 || self.limits.max_label_value_len == 0 {
            return bad(
                "limits.max_label_name_len/max_label_value_len",
                "must be at least 1",
            );
        }
        if self.out_of_order_window.as_millis() > i64::MAX as u128 {
            return bad("out_of_order_window", "too large");
        }
        self.wal.validate().map_err(Error::from)
    }

    pub(crate) fn window_ms(&self) -> i64 {
        // Checked by validate().
        i64::try_from(self.out_of_order_window.as_millis()).unwrap_or(i64::MAX)
    }
}
