#!/usr/bin/env bash
# Checks that no two source files call each other in a circle (docs/architecture.md, "No
# cycles"), and that the directories of the memsweep command depend on each other only
# one way. Works on the object files of a build tree, so it sees exactly the calls (and
# data references) the linker resolves, macros and inline functions expanded:
#   - every global symbol defined by an object is mapped to its source file;
#   - every undefined symbol of an object is mapped to the file that defines it, in the
#     same program (the shim, preload/, is linked apart from the command);
#   - a cycle of that graph (a strongly connected set of two files or more) is reported
#     with one concrete circle and the symbols on each step.
# Cycles in preload/ are warnings unless --preload-errors is given; anywhere else, and any
# directory-level cycle, they fail the check.
#
# Usage: scripts/check_cycles.sh [--preload-errors] [BUILD_DIR]
# BUILD_DIR defaults to build/; it is configured when it has no CMakeCache.txt, and the
# memsweep command and the shim are built (brought up to date) before the check.
set -euo pipefail
cd "$(dirname "$0")/.."

preload_errors=0
if [ "${1:-}" = "--preload-errors" ]; then
    preload_errors=1
    shift
fi
if [ $# -gt 1 ] || [[ "${1:-}" == -* ]]; then
    echo "usage: scripts/check_cycles.sh [--preload-errors] [BUILD_DIR]" >&2
    exit 2
fi
build="${1:-build}"

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target memsweep memsweep_shim >/dev/null

python3 - "$build" "$preload_errors" <<'EOF'
import os, subprocess, sys

build, preload_errors = sys.argv[1], sys.argv[2] == "1"
# Directory -> the program its objects are linked into, and the targets that hold them.
DIRS = {
    "common": ("command", ["ms_common"]),
    "analyzer": ("command", ["ms_analyzer"]),
    "launcher": ("command", ["ms_launcher"]),
    "cli": ("command", ["ms_cli", "memsweep"]),
    "preload": ("shim", ["memsweep_shim"]),
}
# The one direction the command's directories may depend in (docs/architecture.md).
ALLOWED = {
    "common": set(),
    "analyzer": {"common"},
    "launcher": {"common", "analyzer"},
    "cli": {"common", "analyzer", "launcher"},
}

objects = {}  # source file -> (program, object path)
for d, (program, targets) in DIRS.items():
    for t in targets:
        # The link command names exactly the objects the target is made of now; objects of
        # sources it no longer has may linger in its directory and must not count.
        link = os.path.join(build, d, "CMakeFiles", t + ".dir", "link.txt")
        if not os.path.isfile(link):
            sys.exit(f"check_cycles: no {link}: BUILD_DIR must be a built tree of the "
                     "Unix Makefiles generator")
        marker = "CMakeFiles/" + t + ".dir/"
        found = [w for w in open(link).read().split() if w.startswith(marker) and w.endswith(".c.o")]
        if not found:
            sys.exit(f"check_cycles: {link} names no object")
        for w in found:
            src = os.path.join(d, w[len(marker):-len(".o")])
            objects[src] = (program, os.path.join(build, d, w))

defs = {}  # (program, symbol) -> source file
undefs = {}  # source file -> set of symbols
for src, (program, obj) in sorted(objects.items()):
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True, text=True).stdout
    undefs[src] = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        name, kind = f[0], f[1]
        if kind in ("U", "w", "v"):
            undefs[src].add(name)
        elif kind.isupper():
            key = (program, name)
            if key in defs and defs[key] != src:
                sys.exit(f"check_cycles: {name} is defined in {defs[key]} and in {src}")
            defs[key] = src

edges = {src: {} for src in objects}  # file -> {file it uses: [symbols]}
for src, names in undefs.items():
    program = objects[src][0]
    for name in sorted(names):
        dst = defs.get((program, name))
        if dst is not None and dst != src:
            edges[src].setdefault(dst, []).append(name)

def sccs(nodes, succ):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(succ(root))))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(succ(w)))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == v:
                            break
                    out.append(sorted(comp))
    return out

def circle(comp, succ):
    """A shortest circle through the first file of a component, within the component."""
    start, members = comp[0], set(comp)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(succ(v)):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp

status = 0
n_edges = sum(len(v) for v in edges.values())
for comp in sccs(sorted(objects), lambda v: edges[v].keys()):
    if len(comp) < 2:
        continue
    in_preload = all(c.startswith("preload/") for c in comp)
    level = "warning" if in_preload and not preload_errors else "error"
    if level == "error":
        status = 1
    path = circle(comp, lambda v: edges[v].keys())
    print(f"check_cycles: {level}: {len(comp)} files call each other in a circle: "
          + " ".join(comp))
    for a, b in zip(path, path[1:]):
        names = edges[a][b]
        print(f"    {a} -> {b}: {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}")

dir_edges = {}
for a, succ in edges.items():
    for b, names in succ.items():
        da, db = a.split("/")[0], b.split("/")[0]
        if da != db:
            dir_edges.setdefault((da, db), []).append(f"{a} -> {b}: {names[0]}")
for (da, db), uses in sorted(dir_edges.items()):
    ok = db in ALLOWED.get(da, set())
    print(f"check_cycles: {da}/ uses {db}/ ({len(uses)} file pairs)"
          + ("" if ok else f": error: {da}/ must not depend on {db}/, e.g. {uses[0]}"))
    if not ok:
        status = 1
print(f"check_cycles: {len(objects)} files, {n_edges} file-to-file dependencies: "
      + ("no cycle" if status == 0 else "FAILED"))
sys.exit(status)
EOF
