//! What can go wrong in the scraper's configuration (a Prometheus file, a file_sd file).
//! A failed scrape is not an error of the server: it is its target's `lastError`, and `up`
//! 0.

use std::path::PathBuf;

/// A scraper error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrapeError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A Prometheus configuration or file_sd file is wrong.
    #[error("{}: {}{reason}", path.display(), if at.is_empty() { String::new() } else { format!("{at}: ") })]
    Config {
        /// The file.
        path: PathBuf,
        /// Where in it (a job, a section).
        at: String,
        /// What is wrong.
        reason: String,
    },
}
