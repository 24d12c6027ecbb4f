//! Metric metadata writes, reads, replay and the re-log at a flush cut.
//!
//! A write adds the entries that are new for their family to memory and logs them (one
//! kind 6 record, [`Mode::Added`]) under the store's lock, so WAL order is the order the
//! store saw; an entry the family has already writes nothing. Metadata is not in Parquet:
//! a flush truncates the WAL below its cut, so every flush that truncates logs the whole
//! metadata again above its boundary ([`Core::relog_metadata`], [`Mode::Snapshot`]
//! records). Each snapshot record replaces the families it lists at replay, so a write
//! logged between the boundary and the snapshot is neither lost nor reordered.

use crate::lifecycle::Core;
use crate::metrics::metadata::Added;
use crate::model::metadata::{
    FamilyMetadata, MAX_METADATA_HELP_BYTES, MAX_METADATA_METRICS, MAX_METADATA_NAME_BYTES,
    Metadata, MetadataOutcome, MetadataRead, MetadataReject,
};
use crate::wal_records::metadata::{self as wal_metadata, Families, Mode};
use crate::{Result, TenantId};

/// Encoded bytes after which a snapshot record is submitted and another started.
const RECORD_BYTES: usize = 4 << 20;

impl Core {
    /// See [`crate::Engine::write_metadata`].
    pub(crate) fn write_metadata(
        &self,
        tenant: &TenantId,
        entries: &[FamilyMetadata],
    ) -> Result<MetadataOutcome> {
        let mut outcome = MetadataOutcome::default();
        if entries.is_empty() {
            return Ok(outcome);
        }
        self.admit()?;
        let valid: Vec<&FamilyMetadata> = entries
            .iter()
            .filter(|e| match check(e) {
                None => true,
                Some((reason, m)) => {
                    outcome.reject(reason, || m);
                    false
                }
            })
            .collect();
        let ticket = {
            let mut tenants = self.metadata.lock();
            let families = tenants.entry(tenant.clone()).or_default();
            // Grouped by family, in the order added.
            let mut logged: Vec<(&str, Vec<Metadata>)> = Vec::new();
            for e in valid {
                match families.add(&e.family, &e.metadata, Some(MAX_METADATA_METRICS)) {
                    Added::New { evicted } => {
                        outcome.stored += 1;
                        outcome.evicted += u64::from(evicted);
                        match logged.iter_mut().find(|(n, _)| *n == e.family) {
                            Some((_, l)) => l.push(e.metadata.clone()),
                            None => logged.push((&e.family, vec![e.metadata.clone()])),
                        }
                    }
                    Added::Unchanged => outcome.unchanged += 1,
                    Added::Full => outcome.reject(MetadataReject::TooManyMetrics, || {
                        format!(
                            "metric {:?}: tenant {tenant} has metadata for {MAX_METADATA_METRICS} \
                             metrics already",
                            e.family
                        )
                    }),
                }
            }
            if families.by_name.is_empty() {
                tenants.remove(tenant);
            }
            if logged.is_empty() {
                None
            } else {
                let refs: Vec<(&str, &[Metadata])> =
                    logged.iter().map(|(n, l)| (*n, &l[..])).collect();
                Some(
                    self.wal
                        .submit([wal_metadata::encode(tenant, Mode::Added, &refs)])?,
                )
            }
        };
        if let Some(t) = ticket {
            t.wait()?;
        }
        Ok(outcome)
    }

    /// See [`crate::Engine::metadata`].
    pub(crate) fn read_metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: Option<usize>,
        limit_per_metric: Option<usize>,
    ) -> MetadataRead {
        self.metadata.read(tenant, metric, limit, limit_per_metric)
    }

    /// Applies a replayed metadata record (no limit checked: it was when written).
    pub(crate) fn restore_metadata(&self, tenant: TenantId, mode: Mode, families: Families) {
        let mut tenants = self.metadata.lock();
        let f = tenants.entry(tenant).or_default();
        for (name, entries) in families {
            match mode {
                Mode::Snapshot => f.replace(name, entries),
                Mode::Added => {
                    for m in &entries {
                        f.add(&name, m, None);
                    }
                }
            }
        }
    }

    /// Logs every tenant's metadata again, as snapshot records, and waits until they are
    /// durable: called by a flush after its cut took `boundary`, before the WAL below it is
    /// truncated (`lifecycle/flush.rs`).
    pub(crate) fn relog_metadata(&self) -> Result<()> {
        let mut last = None;
        {
            let tenants = self.metadata.lock();
            for (tenant, f) in tenants.iter() {
                let mut batch: Vec<(&str, &[Metadata])> = Vec::new();
                let mut bytes = 0;
                for (name, list) in &f.by_name {
                    batch.push((name, list));
                    bytes += name.len()
                        + list
                            .iter()
                            .map(|m| 9 + m.help.len() + m.unit.len())
                            .sum::<usize>();
                    if bytes >= RECORD_BYTES {
                        let rec = wal_metadata::encode(tenant, Mode::Snapshot, &batch);
                        last = Some(self.wal.submit([rec])?);
                        batch.clear();
                        bytes = 0;
                    }
                }
                if !batch.is_empty() {
                    let rec = wal_metadata::encode(tenant, Mode::Snapshot, &batch);
                    last = Some(self.wal.submit([rec])?);
                }
            }
        }
        if let Some(t) = last {
            // The WAL makes records durable in order: the last one covers them all.
            t.wait()?;
        }
        Ok(())
    }
}

/// The checks that need no state: a refusal's reason and message, or `None`.
fn check(e: &FamilyMetadata) -> Option<(MetadataReject, String)> {
    let name = &e.family;
    if name.is_empty() || name.len() > MAX_METADATA_NAME_BYTES {
        return Some((
            MetadataReject::BadName,
            format!(
                "metric family name of {} bytes (1 to {MAX_METADATA_NAME_BYTES})",
                name.len()
            ),
        ));
    }
    let m = &e.metadata;
    if m.help.len() > MAX_METADATA_HELP_BYTES {
        return Some((
            MetadataReject::TooLong,
            format!(
                "metric {name:?}: help of {} bytes, over {MAX_METADATA_HELP_BYTES}",
                m.help.len()
            ),
        ));
    }
    if m.unit.len() > MAX_METADATA_NAME_BYTES {
        return Some((
            MetadataReject::TooLong,
            format!(
                "metric {name:?}: unit of {} bytes, over {MAX_METADATA_NAME_BYTES}",
                m.unit.len()
            ),
        ));
    }
    None
}
