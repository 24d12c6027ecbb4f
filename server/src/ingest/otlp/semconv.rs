//! The OpenTelemetry resource attributes the mapping reads (semantic conventions): the
//! service a metric's `job` and `instance` labels come from, and a span's or log record's
//! service.

/// `service.name`: with `service.namespace`, the `job` label; a span's or log record's
/// service.
pub(crate) const SERVICE_NAME: &str = "service.name";
/// `service.namespace`: prefixes `job` as `namespace/name`.
pub(crate) const SERVICE_NAMESPACE: &str = "service.namespace";
/// `service.instance.id`: the `instance` label.
pub(crate) const SERVICE_INSTANCE_ID: &str = "service.instance.id";
