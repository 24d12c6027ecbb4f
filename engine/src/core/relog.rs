//! Native histograms across a flush cut, until flushes write them to Parquet.
//!
//! A flush cut leaves histograms in the head (it takes only float samples), but the WAL
//! records that logged them fall below the cut's boundary, which the next open skips and the
//! flush truncates. So the cut logs every histogram the head holds again, with its series'
//! definition, in records above the boundary: a restart after the flush replays them
//! (restoring skips a timestamp already placed, so nothing is doubled).

use std::sync::{Arc, MutexGuard};

use strata_wal::Ticket;

use crate::core::Core;
use crate::metrics::head::{HeadShard, TenantHead};
use crate::wal::{self, SamplesRecord};
use crate::{Result, TenantId};

/// Encoded histogram bytes after which a re-log record is submitted and another started.
const RECORD_BYTES: usize = 4 << 20;

impl Core {
    /// Logs again every histogram held by the locked shards (`guards`) of each tenant
    /// (`heads`, in the same order), after the boundary was taken and before the locks are
    /// released.
    /// Returns the last record's ticket, to wait for before the WAL below the boundary may
    /// be truncated.
    pub(crate) fn relog_histograms(
        &self,
        heads: &[(TenantId, Arc<TenantHead>)],
        guards: &[Vec<MutexGuard<'_, HeadShard>>],
    ) -> Result<Option<Ticket>> {
        let mut last = None;
        for ((tenant, _), shards) in heads.iter().zip(guards) {
            let mut rec = empty(tenant);
            let mut bytes = 0;
            for h in shards {
                for (id, s) in h.index.iter() {
                    let hists = s.buf.hists();
                    if hists.is_empty() {
                        continue;
                    }
                    rec.new_series.push((id, s.key.clone()));
                    for (ts, b) in hists {
                        rec.histograms.push((id, *ts, b.clone()));
                        bytes += b.len();
                    }
                    if bytes >= RECORD_BYTES {
                        let full = std::mem::replace(&mut rec, empty(tenant));
                        last = Some(self.wal.submit([wal::encode(&full)])?);
                        bytes = 0;
                    }
                }
            }
            if !rec.histograms.is_empty() {
                last = Some(self.wal.submit([wal::encode(&rec)])?);
            }
        }
        Ok(last)
    }
}

fn empty(tenant: &TenantId) -> SamplesRecord {
    SamplesRecord {
        tenant: tenant.clone(),
        new_series: Vec::new(),
        samples: Vec::new(),
        histograms: Vec::new(),
    }
}
