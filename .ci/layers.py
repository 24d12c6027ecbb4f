#!/usr/bin/env python3
"""The layering check: imports inside a crate point only down, and never make a cycle.

Each crate's `src/` is split into units (a top-level folder, or a file at the root) with a
rank (LAYERS below, lowest first). A file may use `crate::` paths of its own unit, or of a
unit of a lower rank; units of the same rank may not use each other (metrics and signals in
the engine). Across all files, the import graph (file -> file it names a path in) must have
no cycle. Test code (`#[cfg(test)]` items) is not read: a test may reach any layer.

    python3 .ci/layers.py            # check every crate in LAYERS; exit 1 on a violation
    python3 .ci/layers.py --selftest # shows the check fails on a wrong import
"""
import os, re, sys, tempfile, shutil

# Rank of each unit, lowest first; units in one inner list share a rank and are siblings.
LAYERS = {
    "engine": [
        ["error"],
        ["clock", "tenant", "signal", "memory", "cache_hint", "rate_limit"],
        ["config", "telemetry"],
        ["model"],
        ["wal"],
        ["storage"],
        ["metrics", "signals", "exemplars"],
        ["core"],
        ["api"],
        ["lib"],
    ],
    "server": [
        ["error", "relabel"],
        ["memory"],
        ["config", "http"],
        ["auth", "tls"],
        ["runtime"],
        ["rules"],
        ["derive"],
        ["ingest", "api", "console"],
        ["offline"],
        ["router"],
        ["serve"],
        ["cli"],
        ["lib", "main"],
    ],
}


def strip_tests(text):
    """Blanks `#[cfg(test)]` items (a module, a fn, a use) and comments, keeping lines."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(
        r'//[^\n]*|/\*.*?\*/|r(#*)".*?"\1|b?"(\\.|[^"\\])*"|\'(\\.|[^\\\'])\'',
        blank, text, flags=re.S)
    out, i = list(text), 0
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        j = m.end()
        # the item ends at the matching close brace, or at a `;` before any brace
        semi, brace = text.find(";", j), text.find("{", j)
        if semi != -1 and (brace == -1 or semi < brace):
            end = semi + 1
        else:
            depth, k = 0, brace
            while True:
                if text[k] == "{": depth += 1
                elif text[k] == "}":
                    depth -= 1
                    if depth == 0: break
                k += 1
            end = k + 1
        for k in range(m.start(), end):
            if out[k] != "\n": out[k] = " "
    return "".join(out)


def expand(tree, prefix):
    """Paths named by a use tree (`a::{b, c::{self, d}}`), as lists of segments."""
    tree = tree.strip()
    if not tree: return []
    if tree.startswith("{") and tree.endswith("}"):
        parts, depth, cur = [], 0, ""
        for ch in tree[1:-1]:
            if ch == "{": depth += 1
            if ch == "}": depth -= 1
            if ch == "," and depth == 0: parts.append(cur); cur = ""
            else: cur += ch
        parts.append(cur)
        return [p for part in parts for p in expand(part, prefix)]
    head, sep, rest = tree.partition("::")
    head = head.split(" as ")[0].strip()
    if head == "self": return [prefix]
    if not sep: return [prefix + [head]]
    return expand(rest, prefix + [head])


def crate_paths(text):
    """Every `crate::...` path in the text, with the line it starts on."""
    for m in re.finditer(r"\bcrate::", text):
        k = m.end()
        if text.startswith("{", k):
            depth = 0
            while True:
                if text[k] == "{": depth += 1
                elif text[k] == "}":
                    depth -= 1
                    if depth == 0: break
                k += 1
            tree = text[m.end():k + 1]
        else:
            tree = re.match(r"\w+(::\w+)*(::\{)?", text[m.end():]).group(0)
            if tree.endswith("{"):  # a group: balance it
                k = m.end() + len(tree) - 1
                depth = 0
                while True:
                    if text[k] == "{": depth += 1
                    elif text[k] == "}":
                        depth -= 1
                        if depth == 0: break
                    k += 1
                tree = text[m.end():k + 1]
        line = text.count("\n", 0, m.start()) + 1
        for p in expand(tree, []):
            yield line, [s for s in p if s]


def check(crate_dir, layers):
    src = os.path.join(crate_dir, "src")
    files = {}  # module path tuple -> file
    for root, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".rs"): continue
            rel = os.path.relpath(os.path.join(root, n), src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib"): rel = rel[:-1]
            files[tuple(rel)] = os.path.join(root, n)
    # names re-exported at the crate root: name -> module path
    reexport = {}
    lib = strip_tests(open(os.path.join(src, "lib.rs")).read())
    for m in re.finditer(r"pub use ([^;]+);", lib):
        for p in expand(m.group(1).replace("self::", ""), []):
            if p: reexport[p[-1]] = tuple(p[:-1]) if tuple(p) not in files else tuple(p)
    rank = {u: r for r, us in enumerate(layers) for u in us}
    def unit(mod):
        return mod[0] if mod else "lib"
    def resolve(path):
        if path and path[0] in reexport and tuple(path[:1]) not in files:
            path = list(reexport[path[0]]) + path[1:]
        for n in range(len(path), -1, -1):
            if tuple(path[:n]) in files: return tuple(path[:n])
        return ()
    errors, edges = [], {}
    for mod, f in sorted(files.items()):
        u = unit(mod)
        if u not in rank:
            errors.append(f"{f}: unit `{u}` has no rank in .ci/layers.py LAYERS")
            continue
        text = strip_tests(open(f).read())
        for line, path in crate_paths(text):
            target = resolve(path)
            if target == mod or not target and not path: continue
            if target != mod: edges.setdefault(mod, set()).add(target)
            tu = unit(target)
            if tu == u or tu not in rank: continue
            where = f"{os.path.relpath(f)}:{line}: crate::{'::'.join(path)}"
            if rank[tu] > rank[u]:
                errors.append(f"{where}: `{u}` imports from `{tu}`, a layer above it")
            elif rank[tu] == rank[u]:
                errors.append(f"{where}: `{u}` imports from its sibling `{tu}`")
    # cycles among files (Tarjan)
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop(); on.discard(w); scc.append(w)
                if w == v: break
            if len(scc) > 1: sccs.append(scc)
    for v in list(files):
        if v not in index: visit(v)
    for scc in sccs:
        names = ", ".join(sorted(os.path.relpath(files[m]) for m in scc))
        errors.append(f"{crate_dir}: import cycle among {len(scc)} files: {names}")
    return errors


def selftest():
    """Copies the engine, adds an upward import, and expects the check to catch it."""
    tmp = tempfile.mkdtemp()
    try:
        shutil.copytree("engine/src", os.path.join(tmp, "engine/src"))
        bad = os.path.join(tmp, "engine/src/model/labels.rs")
        with open(bad, "a") as f:
            f.write("\n#[allow(unused_imports)]\nuse crate::metrics::head::TenantHead;\n")
        os.chdir(tmp)
        errors = check("engine", LAYERS["engine"])
        caught = any("model/labels.rs" in e and "a layer above" in e for e in errors)
        print("selftest: an upward import from model/ to metrics/ is", "caught" if caught else "MISSED")
        return 0 if caught else 1
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(selftest())
    failed = False
    for crate, layers in LAYERS.items():
        errors = check(crate, layers)
        for e in errors: print(e)
        print(f"{crate}: {'OK' if not errors else f'{len(errors)} violation(s)'}")
        failed |= bool(errors)
    sys.exit(1 if failed else 0)
