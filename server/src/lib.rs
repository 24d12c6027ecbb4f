//! strata-server: the `strata` binary's library half.
//!
//! It will own the network surface: OTLP gRPC and HTTP ingest, Prometheus remote-write, the
//! Prometheus and Jaeger query APIs, SQL over HTTP, auth, tenancy and self-metrics (issue #5).
//! Today it holds the command line, so that `strata serve` and `strata version` exist from the
//! first commit.

mod cli;
mod otlp;

pub use cli::{Cli, Command, ServeArgs};
