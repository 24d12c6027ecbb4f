//! Recording and alerting rules: Prometheus rule files (and Loki ruler files of LogQL
//! rules) evaluated on the embedded engine, with Prometheus's semantics, and alerts sent to
//! Alertmanager or webhooks (`docs/rules.md`).
//!
//! - [`file`] reads and checks a rule file (`strata rules check`).
//! - [`group`] evaluates a group: recording rules write series through the server's write
//!   path; alerting rules keep their alerts ([`alert`]) and write `ALERTS` and
//!   `ALERTS_FOR_STATE`.
//! - [`manager`] runs every group on its schedule ([`schedule`]), restores `for` state
//!   after a start ([`restore`]), and reloads.
//! - [`notify`] sends alerts; [`template`] expands annotations and webhook bodies.

pub mod alert;
pub mod env;
pub mod error;
pub mod file;
pub mod group;
pub mod load;
pub mod manager;
pub mod notify;
pub mod restore;
pub mod schedule;
pub mod template;

pub use error::{EvalError, RulesError};
pub use file::Lang;
pub use manager::Rules;

/// Label sets of rule results and alerts (sorted by name, no empty values).
pub type Labels = strata_query::promql::Labels;

/// The series of pending and firing alerts (value 1, label `alertstate`).
pub const ALERTS: &str = "ALERTS";
/// The series that keeps when each alert became active (value in seconds), restored
/// after a restart.
pub const ALERTS_FOR_STATE: &str = "ALERTS_FOR_STATE";
