//! OTLP metrics onto the Prometheus data model: the general translation, names and labels,
//! the in-place fast path, and the `ExportMetricsServiceResponse`.

#[cfg(test)]
mod engine_tests;
mod exphist;
pub(crate) mod fast;
pub(crate) mod labels;
pub(crate) mod metadata;
mod names;
mod nhcb;
mod point;
pub(crate) mod response;
pub(crate) mod translate;
mod wire;
