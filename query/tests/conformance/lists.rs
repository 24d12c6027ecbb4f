//! Where the suite's scripts are, and the checked-in lists about its cases: the expected
//! failures (`file:line<TAB>fail<TAB>reason`) and the cases run with delayed name removal
//! (`file` or `file:line`, a tab, and why).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The variable that names the suite: the directory holding `testdata/`.
pub(crate) const SUITE_VAR: &str = "STRATA_PROMQL_SUITE";

/// The suite's `testdata/` folder: under `$STRATA_PROMQL_SUITE`, or under
/// `../shared/conformance/promql` beside `repo` (the repository's root).
pub(crate) fn testdata(repo: &Path) -> PathBuf {
    let suite = std::env::var_os(SUITE_VAR).map_or_else(
        || {
            repo.parent()
                .unwrap_or(repo)
                .join("shared/conformance/promql")
        },
        PathBuf::from,
    );
    suite.join("testdata")
}

/// Whether this runs in CI (`CI=true`, as `.ci/run` sets it), where a missing suite fails.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The `*.test` scripts in `dir`, sorted; `Err` says why there are none.
pub(crate) fn scripts(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let found = std::fs::read_dir(dir).map(|entries| {
        entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "test"))
            .collect::<Vec<PathBuf>>()
    });
    match found {
        Ok(mut files) if !files.is_empty() => {
            files.sort();
            Ok(files)
        }
        other => {
            let what = other.map_or_else(|e| e.to_string(), |_| "no *.test file".into());
            Err(format!(
                "no PromQL conformance scripts at {} ({what}); set {SUITE_VAR} to the directory \
                 holding Prometheus's testdata/ (default: ../shared/conformance/promql beside \
                 the repository)",
                dir.display()
            ))
        }
    }
}

/// Which evals of a script run with delayed name removal
/// (`QueryOptions::delayed_name_removal`); the others run in the default mode.
#[derive(Debug, Clone, Default)]
pub(crate) struct DelayedCases {
    /// Every eval of the script.
    pub(crate) whole_file: bool,
    /// The evals at these lines.
    pub(crate) lines: BTreeSet<usize>,
}

impl DelayedCases {
    /// Whether the eval at `line` runs with delayed name removal.
    pub(crate) fn has(&self, line: usize) -> bool {
        self.whole_file || self.lines.contains(&line)
    }
}

/// Reads a `delayed_name_removal.txt`: by file name.
pub(crate) fn read_delayed(path: &Path) -> BTreeMap<String, DelayedCases> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out: BTreeMap<String, DelayedCases> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let loc = line.split('\t').next().unwrap_or(line);
        match loc.rsplit_once(':') {
            Some((file, ln)) => {
                let ln = ln
                    .parse()
                    .unwrap_or_else(|_| panic!("bad line number in {loc:?}"));
                out.entry(file.to_string()).or_default().lines.insert(ln);
            }
            None => out.entry(loc.to_string()).or_default().whole_file = true,
        }
    }
    out
}

/// Reads an expected-failures list: the reason of each `(file, line)`. A missing file is
/// an empty list.
pub(crate) fn read_expected(path: &Path) -> BTreeMap<(String, usize), String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(loc), Some(_kind), reason) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Some((file, ln)) = loc.rsplit_once(':') else {
            continue;
        };
        let Ok(ln) = ln.parse() else { continue };
        out.insert((file.to_string(), ln), reason.unwrap_or("").to_string());
    }
    out
}
