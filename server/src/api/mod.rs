//! The query APIs: Prometheus, SQL, Jaeger and log search.

pub(crate) mod jaeger;
pub(crate) mod logs;
pub(crate) mod prom;
pub(crate) mod sql;
