//! OTLP spans and log records onto the engine's records: the general translation, the
//! in-place protobuf readers, and the `partial_success` responses.

pub(crate) mod batch;
pub(crate) mod logs;
pub(crate) mod logs_wire;
#[cfg(test)]
mod random;
pub(crate) mod response;
pub(crate) mod spans;
pub(crate) mod spans_wire;
mod wire;
