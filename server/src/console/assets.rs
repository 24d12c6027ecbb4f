//! The console's files, embedded into the binary at compile time from `server/console/`.
//!
//! [`FILES`] lists every file of that folder (a test checks the list against the folder, so a
//! new file cannot be forgotten). Each is served as is, or gzip-compressed when the client
//! accepts it: compressed once, on first use, and kept.

use std::io::Write;
use std::sync::OnceLock;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// One embedded file.
pub(crate) struct Asset {
    /// Path under `server/console/`, `/`-separated.
    pub(crate) path: &'static str,
    /// The bytes as checked in.
    pub(crate) bytes: &'static [u8],
    /// Its `Content-Type`.
    pub(crate) content_type: &'static str,
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!("../../console/", $path)),
            content_type: content_type($path),
        }),*]
    };
}

/// Every file of `server/console/`.
pub(crate) static FILES: &[Asset] = assets![
    "index.html",
    "style.css",
    "app.js",
    "lib/api.js",
    "lib/chart.js",
    "lib/dom.js",
    "lib/range.js",
    "lib/links.js",
    "lib/waterfall.js",
    "lib/logql-suggest.js",
    "lib/autocomplete.js",
    "lib/exemplars.js",
    "lib/promql-hints.js",
    "views/promql.js",
    "views/sql.js",
    "views/traces.js",
    "views/traces.css",
    "views/logs.js",
    "views/logs.css",
    "views/explore.css",
    "views/cardinality.js",
    "views/targets.js",
    "views/status.js",
    "vendor/README",
    "vendor/uPlot.LICENSE",
    "vendor/uPlot.iife.min.js",
    "vendor/uPlot.min.css",
];

/// Whether `path` ends with `ext` (a `const fn`, so that [`FILES`] is a constant table).
const fn ends(path: &[u8], ext: &[u8]) -> bool {
    if path.len() < ext.len() {
        return false;
    }
    let mut i = 0;
    while i < ext.len() {
        if path[path.len() - ext.len() + i] != ext[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The `Content-Type` of a file, by its extension.
const fn content_type(path: &str) -> &'static str {
    let b = path.as_bytes();
    if ends(b, b".html") {
        "text/html; charset=utf-8"
    } else if ends(b, b".css") {
        "text/css; charset=utf-8"
    } else if ends(b, b".js") {
        "text/javascript; charset=utf-8"
    } else if ends(b, b".svg") {
        "image/svg+xml"
    } else if ends(b, b".png") {
        "image/png"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// A file's gzip form and its entity tag, made once.
pub(crate) struct Encoded {
    /// The gzip-compressed bytes.
    pub(crate) gzip: Vec<u8>,
    /// A strong entity tag from the content's hash, quoted.
    pub(crate) etag: String,
}

/// The file at `path`, if embedded.
pub(crate) fn find(path: &str) -> Option<(usize, &'static Asset)> {
    FILES.iter().enumerate().find(|(_, a)| a.path == path)
}

/// The gzip form and entity tag of file number `i` of [`FILES`].
pub(crate) fn encoded(i: usize) -> &'static Encoded {
    static CACHE: OnceLock<Vec<OnceLock<Encoded>>> = OnceLock::new();
    let cells = CACHE.get_or_init(|| FILES.iter().map(|_| OnceLock::new()).collect());
    cells[i].get_or_init(|| {
        let bytes = FILES[i].bytes;
        let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::best());
        // Writing to a Vec cannot fail; were it to, the file is served uncompressed.
        let gzip = enc
            .write_all(bytes)
            .and_then(|()| enc.finish())
            .unwrap_or_default();
        let digest = Sha256::digest(bytes);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Encoded { gzip, etag }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `server/console/`, relative, sorted.
    fn on_disk() -> Vec<String> {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("console folder") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    let rel = p.strip_prefix(base).expect("under base");
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut out = Vec::new();
        walk(&base, &base, &mut out);
        out.sort();
        out
    }

    #[test]
    fn every_file_of_the_folder_is_embedded_and_nothing_else() {
        let mut listed: Vec<String> = FILES.iter().map(|a| a.path.to_owned()).collect();
        listed.sort();
        assert_eq!(
            listed,
            on_disk(),
            "FILES in console/assets.rs must list the folder"
        );
    }

    #[test]
    fn gzip_round_trips_and_the_whole_console_is_small() {
        use std::io::Read;
        let mut total = 0;
        for (i, a) in FILES.iter().enumerate() {
            let e = encoded(i);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&e.gzip[..])
                .read_to_end(&mut back)
                .expect("gunzip");
            assert_eq!(back, a.bytes, "{}", a.path);
            total += e.gzip.len();
        }
        // The budget: the whole console under ~300 KB gzipped.
        assert!(total < 300 * 1024, "console is {total} bytes gzipped");
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "text/plain; charset=utf-8");
    }
}
