//! Ingest: request bodies to the engine's series and records, and the handlers that take
//! them over the network (Prometheus remote-write, OTLP over HTTP and gRPC, Loki's push,
//! VictoriaMetrics's import APIs).

pub mod decoders;
pub(crate) mod exposition;
pub(crate) mod import;
pub(crate) mod loki;
pub(crate) mod otlp;
pub(crate) mod protobuf;
pub mod remote_write;
#[cfg(test)]
pub(crate) mod test_rng;
pub(crate) mod utf8;
