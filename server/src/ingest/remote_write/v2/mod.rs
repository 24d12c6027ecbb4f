//! Remote-write 2.0 (`io.prometheus.write.v2.Request`): a symbols table and series that
//! refer to it, native histograms with start timestamps, exemplars and metadata per series.
//! The same route as 1.0 takes it, chosen by the Content-Type's `proto` parameter
//! ([`super::negotiate`]); what it decodes to is stored as 1.0's [`super::Batch`] is.
//! Metadata is stored per metric family; a start timestamp becomes a zero sample before
//! its sample where it fits ([`strata_engine::KeyedSeries::sample_starts`]).

pub(crate) mod decode;
pub mod proto;
pub(crate) mod wire;

pub use decode::Request;
