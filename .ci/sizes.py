#!/usr/bin/env python3
"""Size limits of the layout: no `.rs` file over 800 lines, no function over 150.

Walks every `.rs` file of the workspace (sources, tests, benches, examples), finds each `fn`
item with a body and counts the lines from its `fn` line to its closing brace. Strings,
raw strings, character literals and comments are blanked first, so braces inside them do
not count. Prints each offender and exits 1 when there is one.

`--selftest` plants a file of 801 lines and a function of 151 lines (with braces hidden in
strings and comments) and checks that both are reported and that 800 / 150 pass.
"""
import os
import re
import sys
import tempfile

MAX_FILE_LINES = 800
MAX_FN_LINES = 150
CRATE_DIRS = ["wal", "engine", "query", "server", "benches"]
FN_RE = re.compile(
    r"\b(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
    r"(?:extern\s+\"[^\"]*\"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)"
)


def blank(src):
    """The source with comments, strings and char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', src[i:i + 300])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '{') or a lifetime ('a, 'static).
            m = re.match(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'", src[i:i + 12])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def long_functions(src):
    """(name, first line, lines) of every function body in `src`."""
    text = blank(src)
    line_of = []
    line = 1
    for ch in text:
        line_of.append(line)
        if ch == "\n":
            line += 1
    found = []
    for m in FN_RE.finditer(text):
        # The body opens at the first `{` after the signature, unless a `;` comes first
        # (a declaration in a trait or an extern block).
        j = m.end()
        depth_paren = 0
        while j < len(text):
            ch = text[j]
            if ch in "([<":
                depth_paren += 1
            elif ch in ")]>":
                depth_paren -= 1
            elif ch == ";" and depth_paren <= 0:
                j = -1
                break
            elif ch == "{" and depth_paren <= 0:
                break
            j += 1
        if j < 0 or j >= len(text):
            continue
        depth, k = 0, j
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        first, last = line_of[m.start()], line_of[min(k, len(text) - 1)]
        found.append((m.group(1), first, last - first + 1))
    return found


def check(root):
    problems = []
    for crate in CRATE_DIRS:
        for base, dirs, files in os.walk(os.path.join(root, crate)):
            dirs[:] = [d for d in dirs if d not in ("target", "fuzz", "node_modules")]
            for f in files:
                if not f.endswith(".rs"):
                    continue
                path = os.path.join(base, f)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as fh:
                    src = fh.read()
                lines = src.count("\n") + (0 if src.endswith("\n") or not src else 1)
                if lines > MAX_FILE_LINES:
                    problems.append(f"{rel}: {lines} lines (at most {MAX_FILE_LINES})")
                for name, first, count in long_functions(src):
                    if count > MAX_FN_LINES:
                        problems.append(
                            f"{rel}:{first}: fn {name} is {count} lines (at most {MAX_FN_LINES})"
                        )
    return problems


def selftest():
    def body(n_lines, name):
        # `n_lines` lines in all, from `fn` to `}`; braces hidden in a string, a raw string,
        # a char literal and a comment must not change the count.
        inner = ['    let _a = "}";', '    let _b = r#"{"#;', "    let _c = '}';", "    // }"]
        inner += ["    let _x = 1;"] * (n_lines - 2 - len(inner))
        return [f"fn {name}() {{"] + inner + ["}"]

    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "engine", "src")
        os.makedirs(src)
        with open(os.path.join(src, "ok.rs"), "w") as f:
            f.write("\n".join(body(150, "fits") + ["//"] * (MAX_FILE_LINES - 150)) + "\n")
        with open(os.path.join(src, "long_fn.rs"), "w") as f:
            f.write("\n".join(body(151, "too_long")) + "\n")
        with open(os.path.join(src, "long_file.rs"), "w") as f:
            f.write("\n".join(["//"] * (MAX_FILE_LINES + 1)) + "\n")
        got = check(d)
    want = [
        "engine/src/long_file.rs: 801 lines",
        "engine/src/long_fn.rs:1: fn too_long is 151 lines",
    ]
    for w in want:
        if not any(p.startswith(w) for p in got):
            print(f"selftest: expected a report starting {w!r}, got {got}")
            return 1
    if len(got) != len(want):
        print(f"selftest: expected exactly {len(want)} reports, got {got}")
        return 1
    print("sizes selftest: both planted offenders reported, the limits themselves pass")
    return 0


def main():
    if "--selftest" in sys.argv:
        return selftest()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} over the size limits")
        return 1
    print(f"sizes OK: no .rs file over {MAX_FILE_LINES} lines, no fn over {MAX_FN_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
