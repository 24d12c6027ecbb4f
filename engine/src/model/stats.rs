//! What the engine reports of a tenant: counters since open and memory of its series.

use std::collections::BTreeMap;

use crate::RejectReason;

/// Counters of one tenant since the engine was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantStats {
    /// Series known (in memory).
    pub series: usize,
    /// Series counted as active (see [`crate::Limits::max_active_series`]).
    pub active_series: usize,
    /// Samples rejected, by reason, since open.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Spans rejected, by reason, since open.
    pub spans_rejected: BTreeMap<crate::SignalReject, u64>,
    /// Log records rejected, by reason, since open.
    pub logs_rejected: BTreeMap<crate::SignalReject, u64>,
    /// Bytes of its series structures in memory (samples not included).
    pub memory: HeadMemory,
    /// Bytes its unflushed spans hold in memory (a flush in progress included), as counted
    /// against `max_head_bytes` (`record_memory`).
    pub spans_memory: u64,
    /// Bytes its unflushed log records hold in memory, as `spans_memory`.
    pub logs_memory: u64,
    /// Exemplars refused, by reason, since open (their samples are stored regardless).
    pub exemplars_rejected: BTreeMap<crate::ExemplarReject, u64>,
    /// Exemplars pushed out of memory by newer ones over `max_exemplars` before any flush
    /// took them, since open.
    pub exemplars_evicted: u64,
    /// Exemplars held in memory (at most `max_exemplars`).
    pub exemplars_memory: usize,
}

/// Bytes a tenant's series take in memory, apart from their samples (16 bytes each plus
/// the spare capacity of each series' buffer). Computed from sizes and capacities, not
/// measured: the allocator's rounding and free memory are not included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadMemory {
    /// The series map's table: id, key handle and sample buffer state per bucket.
    pub series_table: u64,
    /// The series' canonical label bytes.
    pub series_keys: u64,
    /// The head's inverted index: label name and value -> series.
    pub postings: u64,
    /// The raw label key cache of remote-write (keys and table, bounded).
    pub raw_keys: u64,
    /// The table of series a flush in progress has taken.
    pub flushing_table: u64,
    /// Native histogram samples held in the head: their encodings and buffers (unlike
    /// float samples, counted here, as they are larger and of varying size).
    pub histograms: u64,
}
