//! The `strata` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Strata: an embedded columnar telemetry store.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `strata`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server on a data directory.
    Serve(ServeArgs),
    /// Print the version and exit.
    Version,
}

/// Flags of `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory holding the WAL and the partitions.
    #[arg(long, default_value = "./strata-data")]
    pub data_dir: PathBuf,
    /// Address of the HTTP listener (OTLP/HTTP, remote-write, query APIs).
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub http_addr: SocketAddr,
    /// Address of the OTLP gRPC listener.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub grpc_addr: SocketAddr,
}
