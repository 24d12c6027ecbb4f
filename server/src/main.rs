//! The `strata` binary.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;
use strata_server::{Cli, Command, LogFormat};

/// mimalloc instead of the system allocator (feature `mimalloc`, on by default): ingest
/// allocates and frees many small strings per record (`docs/benchmarks-history.md`).
#[cfg(all(feature = "mimalloc", not(feature = "alloc-stats")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator with its live bytes counted (feature `alloc-stats`).
#[cfg(all(feature = "mimalloc", feature = "alloc-stats"))]
#[global_allocator]
static GLOBAL: strata_server::allocator::Counting<mimalloc::MiMalloc> =
    strata_server::allocator::Counting(mimalloc::MiMalloc);

/// The system allocator with its live bytes counted (feature `alloc-stats`).
#[cfg(all(not(feature = "mimalloc"), feature = "alloc-stats"))]
#[global_allocator]
static GLOBAL: strata_server::allocator::Counting<std::alloc::System> =
    strata_server::allocator::Counting(std::alloc::System);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!("strata {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Serve(args) => args.load().and_then(|config| {
            init_logging(config.log_format);
            // Flushes and compactions free large buffers: give them back to the system,
            // in pages it can take back (no transparent huge pages).
            if let Err(e) = strata_server::allocator::disable_transparent_huge_pages() {
                tracing::warn!(error = %e, "cannot turn transparent huge pages off");
            }
            strata_engine::set_memory_release(strata_server::allocator::release_memory);
            strata_server::allocator::set_purge_delay(config.memory.limit);
            if let Err(e) = strata_server::allocator::set_c_heap_trim_threshold() {
                tracing::warn!(error = %e, "cannot set the C heap's trim threshold");
            }
            strata_server::run_server(config)
        }),
        Command::Promql(args) => strata_server::run_promql(&args, &mut std::io::stdout().lock()),
        Command::Sql(args) => strata_server::run_sql(&args, &mut std::io::stdout().lock()),
        Command::Rules(strata_server::RulesCommand::Check(args)) => {
            args.run(&mut std::io::stdout().lock())
        }
        Command::Snapshot(args) => args.run(&mut std::io::stdout().lock()),
        Command::Delete(command) => command.run(&mut std::io::stdout().lock()),
        Command::Import(args) => args.run(&mut std::io::stdout().lock()),
        Command::CheckConfig(args) => args.load().map(|c| {
            println!(
                "config OK: data_dir={} http_addr={} grpc_addr={} max_body_bytes={} durability={:?} metrics_retention={} auth={} tenant_overrides=[{}]",
                c.data_dir.display(),
                c.http_addr,
                c.grpc_addr,
                c.max_body_bytes,
                c.engine.wal.durability,
                humantime::format_duration(c.engine.limits.metrics_retention),
                if c.tokens.is_empty() { "off".to_owned() } else { format!("{} tokens", c.tokens.len()) },
                c.tenant_overrides().keys().cloned().collect::<Vec<_>>().join(","),
            );
            print!("{}", c.memory.describe());
            print!("\n{}", c.effective_text());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every variant's message already includes its cause.
            eprintln!("strata: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Log lines on stderr at `RUST_LOG`'s level (default `info`, and `warn` for the
/// `object_store` crate, which logs every retried request at `info`: the mirror and the
/// reader log each failed pass once, at `warn`): text, coloured only when
/// stderr is a terminal and `NO_COLOR` is unset (a file or journald gets no escape codes),
/// or one JSON object per line with the event's fields beside `timestamp`, `level`,
/// `target` and `message`.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,object_store=warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            fmt.with_ansi(colour).init();
        }
        LogFormat::Json => fmt.json().flatten_event(true).with_ansi(false).init(),
    }
}
