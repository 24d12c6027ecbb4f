//! The `strata` binary.

use clap::Parser;
use strata_server::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => println!("strata {}", env!("CARGO_PKG_VERSION")),
        Command::Serve(args) => {
            // The listeners land with the server issue; until then say exactly what would run.
            println!(
                "strata {}: would serve HTTP on {} and OTLP gRPC on {} with data in {}",
                env!("CARGO_PKG_VERSION"),
                args.http_addr,
                args.grpc_addr,
                args.data_dir.display()
            );
            println!("the network server is not built yet; exiting");
        }
    }
}
