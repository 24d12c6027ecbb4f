#!/usr/bin/env python3
"""The layering check: inside each crate, imports point only down and make no file cycle.

Every path a file names that starts with `crate::`, `super::` or `self::` (in `use` trees,
expanded, and in code), and every `use` of one of its own child modules, is resolved to the
file it names; a name a module re-exports (`pub use`, any visibility) is followed to the file
that defines it. Comments, strings and test code (`#[cfg(test)]` items) are not read: a test
may reach any layer. Two rules:

1. Ranks. Each crate's `src/` is split into units (a top-level folder, or a file at the root)
   with a rank (LAYERS below, lowest first). A file may name its own unit or a unit of a lower
   rank; units of one rank are siblings and may not name each other.
2. No cycle between files. The only cycles allowed are between a module and its own
   children (a `mod.rs` that re-exports what a child defines, the child naming its parent's
   items with `super::`): edges from a module to its direct children are left out before the
   cycles are looked for.

    python3 .ci/layers.py            # check every crate in LAYERS; exit 1 on a violation
    python3 .ci/layers.py --selftest # plants each kind of violation and expects each caught
"""
import os, re, sys, tempfile, shutil

# Rank of each unit, lowest first; units in one inner list share a rank and are siblings.
LAYERS = {
    "wal": [
        ["record", "latency", "storage"],
        ["format", "sim"],
        ["damage"],
        ["error"],
        ["options", "ticket", "segment"],
        ["recovery"],
        ["reader", "shared"],
        ["writer"],
        ["wal"],
        ["lib"],
    ],
    "engine": [
        ["error"],
        ["clock", "tenant", "signal_kind", "memory", "cache_hint", "rate_limit"],
        ["config", "telemetry"],
        ["model"],
        ["wal_records"],
        ["storage"],
        ["metrics", "spans_logs", "exemplars"],
        ["lifecycle"],
        ["api"],
        ["lib"],
    ],
    "query": [
        ["go"],
        ["memory"],
        ["promql"],
        ["sql"],
        ["logql", "traceql"],
        ["strata"],
        ["prom_api"],
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
        ["scrape"],
        ["offline", "migrate"],
        ["router"],
        ["serve"],
        ["cli"],
        ["lib", "main"],
    ],
}


def blank(text, start, end):
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def close_brace(text, k):
    """The index of the brace closing the one at `k`."""
    depth = 0
    while True:
        if text[k] == "{": depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0: return k
        k += 1


def strip(text):
    """Blanks comments, string and char literals and `#[cfg(test)]` items, keeping lines."""
    sub = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(
        r'//[^\n]*|/\*.*?\*/|r(#*)".*?"\1|b?"(\\.|[^"\\])*"|\'(\\.|[^\\\'])\'',
        sub, text, flags=re.S)
    while (m := re.search(r"#\[cfg\(test\)\]", text)):
        j = m.end()
        # the item ends at the matching close brace, or at a `;` before any brace
        semi, brace = text.find(";", j), text.find("{", j)
        end = semi + 1 if semi != -1 and (brace == -1 or semi < brace) else close_brace(text, brace) + 1
        text = blank(text, m.start(), end)
    return text


def inline_modules(text, mod):
    """Splits out inline `mod name { ... }` blocks: [(module path, text)], outer first."""
    parts = []
    while (m := re.search(r"\bmod\s+(\w+)\s*\{", text)):
        end = close_brace(text, m.end() - 1)
        inner = " " * m.end() + text[m.end():end] + " " * (len(text) - end)
        parts += inline_modules(inner, mod + (m.group(1),))
        text = blank(text, m.start(), end + 1)
    return [(mod, text)] + parts


def expand(tree, prefix=()):
    """Paths a use tree names (`a::{b, c::{self, d as e}}`): [(segments, name bound)]."""
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
    head = head.strip()
    if not sep:
        name, _, alias = head.partition(" as ")
        name, alias = name.strip(), alias.strip()
        if name == "self": return [(prefix, alias or (prefix[-1] if prefix else ""))]
        if name == "*": return []
        return [(prefix + (name,), alias or name)]
    return expand(rest, prefix + (head,))


def tree_end(text, k):
    """The end of the path or use tree starting at `k`."""
    m = re.match(r"\w+(\s*::\s*\w+)*(\s*::\s*\{)?", text[k:])
    if not m: return k
    if m.group(0).endswith("{"):
        return close_brace(text, k + len(m.group(0)) - 1) + 1
    return k + len(m.group(0))


def named_paths(text):
    """(line, use tree, is a `use`, visibility of the use or None) for every path in the text
    that starts with `crate`, `super` or `self`, and every `use` tree (which may start with a
    child module's name)."""
    used = []
    for m in re.finditer(r"(?:\b(pub(?:\([^)]*\))?)\s+)?\buse\s+", text):
        end = text.find(";", m.end())
        used.append((m.start(), end))
        yield text.count("\n", 0, m.start()) + 1, text[m.end():end], True, m.group(1)
    for m in re.finditer(r"(?<![\w:])(crate|super|self)\s*::", text):
        if any(a <= m.start() < b for a, b in used): continue
        if re.search(r"\bin\s*$", text[max(0, m.start() - 8):m.start()]): continue  # pub(in ...)
        yield text.count("\n", 0, m.start()) + 1, text[m.start():tree_end(text, m.start())], False, None


class Crate:
    def __init__(self, crate_dir):
        src = os.path.join(crate_dir, "src")
        self.files, self.texts = {}, {}  # module path -> file, its stripped text
        self.walk((), os.path.join(src, "lib.rs"), True)
        if os.path.exists(os.path.join(src, "main.rs")):
            self.walk(("main",), os.path.join(src, "main.rs"), True)
        self.parts = {}    # file module -> [(module path, text)]
        self.exports = {}  # module path -> {name bound: absolute path}
        for mod in self.files:
            self.parts[mod] = inline_modules(self.texts[mod], mod)
            for inner, text in self.parts[mod]:
                for _, tree, is_use, vis in named_paths(text):
                    if not (is_use and vis): continue
                    for path, name in expand(tree):
                        if (a := self.absolute(path, inner)) is not None:
                            self.exports.setdefault(inner, {})[name] = a

    def walk(self, mod, path, owns_dir):
        """Reads the module `mod` in file `path` and, from its `mod name;` declarations
        (`#[path]` followed; test modules skipped), its child modules' files."""
        raw = open(path).read()
        text = strip(raw)
        self.files[mod], self.texts[mod] = path, text
        here = os.path.dirname(path)
        own = here if owns_dir else os.path.join(here, os.path.basename(path)[:-3])
        for m in re.finditer(r"\bmod\s+(\w+)\s*;", text):
            attrs = re.search(r'((#\[[^\]]*\]\s*)*)(pub(\([^)]*\))?\s+)?$', raw[:m.start()]).group(1)
            name = m.group(1)
            if (p := re.search(r'#\[path\s*=\s*"([^"]+)"\]', attrs)):
                child = os.path.join(here, p.group(1))
                owns = os.path.basename(child) == "mod.rs"
            elif os.path.exists(os.path.join(own, name + ".rs")):
                child, owns = os.path.join(own, name + ".rs"), False
            else:
                child, owns = os.path.join(own, name, "mod.rs"), True
            self.walk(mod + (name,), child, owns)

    def absolute(self, path, mod):
        """`path` named in module `mod` as a path from the crate root; None if external."""
        if not path: return None
        if path[0] == "crate": return path[1:]
        if path[0] == "self": return mod + path[1:]
        if path[0] == "super":
            base = mod
            while path and path[0] == "super":
                base, path = base[:-1], path[1:]
            return base + path
        if mod + path[:1] in self.files: return mod + path  # a child module, by name
        return None

    def resolve(self, path, naming):
        """The files a crate-root path named in file module `naming` lands in: the file it
        names and, through re-exports, the file that defines the item. A module that
        re-exports an item of its own descendants, or is an ancestor of `naming` (the crate
        root, a parent's `mod.rs`), is a facade: only the defining file counts. A re-export
        by any other file counts both."""
        out, seen = set(), set()
        while True:
            n = len(path)
            while n > 0 and path[:n] not in self.files and not (path[:n] in self.exports and n < len(path)):
                n -= 1
            head, rest = path[:n], path[n:]
            target = self.exports.get(head, {}).get(rest[0]) if rest else None
            is_file = head in self.files
            if target is None or (head, rest[0]) in seen or target == head + rest[:1]:
                if is_file: out.add(head)
                return out
            if is_file and head != naming[:len(head)] and target[:len(head)] != head:
                out.add(head)
            seen.add((head, rest[0]))
            path = target + rest[1:]

    def edges(self):
        """{file module: {file module: first line naming it}}."""
        out = {}
        for mod in self.files:
            for inner, text in self.parts[mod]:
                for line, tree, _, _ in named_paths(text):
                    for path, _ in expand(tree):
                        a = self.absolute(path, inner)
                        if a is None: continue
                        for target in self.resolve(a, mod):
                            if target != mod:
                                out.setdefault(mod, {}).setdefault(target, line)
        return out


def check(crate_dir, layers):
    crate = Crate(crate_dir)
    files, edges = crate.files, crate.edges()
    rank = {u: r for r, us in enumerate(layers) for u in us}
    unit = lambda mod: mod[0] if mod else "lib"
    errors = []
    for mod, f in sorted(files.items()):
        if unit(mod) not in rank:
            errors.append(f"{f}: unit `{unit(mod)}` has no rank in .ci/layers.py LAYERS")
    for mod, targets in sorted(edges.items()):
        u = unit(mod)
        for target, line in sorted(targets.items()):
            tu = unit(target)
            if tu == u or u not in rank or tu not in rank: continue
            where = f"{os.path.relpath(files[mod])}:{line} names {os.path.relpath(files[target])}"
            if rank[tu] > rank[u]:
                errors.append(f"{where}: `{u}` imports from `{tu}`, a layer above it")
            elif rank[tu] == rank[u]:
                errors.append(f"{where}: `{u}` imports from its sibling `{tu}`")
    # cycles among files (Tarjan), a module's edges to its own descendants left out
    graph = {v: [w for w in ws if w[:len(v)] != v] for v, ws in edges.items()}
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
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


PLANTS = [
    # (what, crate, file, text appended, what the error must name)
    ("an upward `crate::` import (model/ -> metrics/)", "engine", "engine/src/model/labels.rs",
     "\n#[allow(unused_imports)]\nuse crate::metrics::head::TenantHead;\n", "a layer above"),
    ("a cycle through `super::` (wal.rs <-> storage.rs, at the crate root)", "wal",
     "wal/src/storage.rs", "\n#[allow(unused_imports)]\nuse super::wal::Wal;\n", "import cycle"),
    ("a cycle in query (promql <-> memory)", "query", "query/src/memory.rs",
     "\nfn planted() { let _ = crate::promql::Evaluator::new; }\n", "import cycle"),
    ("a cycle in wal (segment.rs -> recovery.rs)", "wal", "wal/src/segment.rs",
     "\nuse crate::recovery::{self as planted};\n", "import cycle"),
]


def selftest():
    """Plants each kind of violation in a copy of the crates and expects each caught."""
    failed = 0
    for what, crate, path, text, expect in PLANTS:
        tmp = tempfile.mkdtemp()
        try:
            for c in LAYERS:
                shutil.copytree(os.path.join(c, "src"), os.path.join(tmp, c, "src"))
            with open(os.path.join(tmp, path), "a") as f:
                f.write(text)
            here = os.getcwd()
            os.chdir(tmp)
            try:
                errors = check(crate, LAYERS[crate])
            finally:
                os.chdir(here)
            caught = any(expect in e and os.path.basename(path) in e for e in errors)
            print(f"selftest: {what}: {'caught' if caught else 'MISSED'}")
            failed += not caught
        finally:
            shutil.rmtree(tmp)
    return 1 if failed else 0


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
