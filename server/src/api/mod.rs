//! The query APIs: Prometheus, Loki (LogQL), SQL (over HTTP and Arrow Flight SQL), Jaeger and log search; the rules' APIs;
//! the admin API (snapshots and deletes); the status API (cardinality, limits, disk, the
//! process); the export of metrics as JSON lines.

pub(crate) mod admin;
pub(crate) mod exemplars;
pub(crate) mod export;
pub(crate) mod flightsql;
pub(crate) mod jaeger;
pub(crate) mod logs;
pub(crate) mod loki;
pub(crate) mod prom;
pub(crate) mod remote_read;
pub(crate) mod rules;
pub(crate) mod sql;
pub(crate) mod status;
pub(crate) mod tempo;
