//! `docs/http-api.md` lists exactly the HTTP routes the server registers: every path in a
//! `.route("...")` call of `server/src/` (read as text, tests and comments left out) is a
//! row of the page's tables (`` | `/path` | ``), and every such row is a registered path.
//! No server is started.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The `server/` folder.
fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, in a stable order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Whether `path` holds only tests: `tests.rs`, `*_tests.rs`, or a file under a `tests/`
/// folder.
fn is_test_file(path: &Path, root: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let rel = path.strip_prefix(root).unwrap_or(path);
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// `text` without its comments and without an inline `#[cfg(test)] mod ... { ... }` and
/// what follows it (test modules come last in a file).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map_or("", |l| l.trim());
            if next.starts_with("mod ") && next.ends_with('{') {
                break;
            }
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The string literal at the start of `rest` (after whitespace), if there is one.
fn leading_literal(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// The paths of the `.route("...")` calls in the server's source, each with the file that
/// registers it. Fails on a router call whose paths a text scan cannot read.
fn routed() -> Vec<(String, String)> {
    let root = crate_dir().join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut routes = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f, &root)) {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let code = code_of(&text);
        let shown = format!(
            "server/{}",
            file.strip_prefix(crate_dir()).unwrap_or(file).display()
        );
        for call in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !code.contains(call),
                "{shown} calls `{call}...)`: this test reads only `.route(\"...\")` paths; teach it the prefix"
            );
        }
        for (at, _) in code.match_indices(".route(") {
            let path = leading_literal(&code[at + ".route(".len()..]).unwrap_or_else(|| {
                panic!("{shown}: a `.route(` whose first argument is not a string literal")
            });
            routes.push((path.to_owned(), shown.clone()));
        }
    }
    routes
}

/// The paths `docs/http-api.md` lists: the first cell of every table row that starts with
/// `` | `/ ``.
fn listed() -> Vec<String> {
    let page = crate_dir().join("../docs/http-api.md");
    let text = std::fs::read_to_string(&page)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()));
    text.lines()
        .filter_map(|line| line.strip_prefix("| `/"))
        .map(|rest| {
            let end = rest
                .find('`')
                .unwrap_or_else(|| panic!("an unclosed path in the row `| `/{rest}`"));
            format!("/{}", &rest[..end])
        })
        .collect()
}

#[test]
fn the_page_lists_every_route_and_nothing_else() {
    let routed = routed();
    let listed = listed();
    assert!(
        routed.len() > 20,
        "found only {} routes in server/src: is the scan broken?",
        routed.len()
    );
    let routed_paths: BTreeSet<&str> = routed.iter().map(|(p, _)| p.as_str()).collect();
    let listed_paths: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    for (path, file) in &routed {
        if !listed_paths.contains(path.as_str()) {
            problems.push(format!(
                "routed in {file} but not listed in docs/http-api.md: {path}"
            ));
        }
    }
    for path in &listed_paths {
        if !routed_paths.contains(path) {
            problems.push(format!(
                "listed in docs/http-api.md but routed nowhere in server/src: {path}"
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for path in &listed {
        if !seen.insert(path) {
            problems.push(format!("listed twice in docs/http-api.md: {path}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_scan_reads_the_routes_as_written() {
    let code = code_of(
        "// .route(\"/commented\", get(x))\n\
         Router::new()\n    .route(\"/a/{b}\", get(x))\n    .route(\n        \"/c\",\n        post(y),\n    )\n\
         #[cfg(test)]\nmod tests {\n    fn t() { Router::new().route(\"/test-only\", get(z)); }\n}\n",
    );
    let paths: Vec<&str> = code
        .match_indices(".route(")
        .filter_map(|(at, _)| leading_literal(&code[at + ".route(".len()..]))
        .collect();
    assert_eq!(paths, ["/a/{b}", "/c"]);
}
