#!/usr/bin/env bash
# Runs the README's test command in N fresh clones of HEAD, one after another, on a busy
# machine: HOGS CPU-bound processes (`yes >/dev/null`) run for the whole time. Each clone
# is made from the committed HEAD (what CI would get), in a directory of its own, and
# runs `CI=true scripts/test.sh` exactly as .ci/run does. Prints each run's result and
# time, and at the end how many were green; exits 1 unless every run was.
#
# Usage: scripts/ci-stress.sh [N] [HOGS]          (defaults: 5 2)
# MEMSWEEP_GATES=0 in the environment leaves out the gates, as for scripts/test.sh.
# The clones go under MEMSWEEP_STRESS_DIR (default: a new directory in ${TMPDIR:-/tmp});
# each clone's full log is kept there as run-K.log, and the clones are removed at the
# end unless MEMSWEEP_STRESS_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5}"
hogs_n="${2:-2}"
if ! [[ "$n" =~ ^[1-9][0-9]*$ && "$hogs_n" =~ ^[0-9]+$ ]]; then
    echo "memsweep: usage: scripts/ci-stress.sh [N] [HOGS] (N at least 1)" >&2
    exit 2
fi
src="$PWD"
head="$(git rev-parse --short HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "ci-stress: note: the work tree has uncommitted changes; the clones test HEAD $head only" >&2
fi
root="${MEMSWEEP_STRESS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/memsweep-stress.XXXXXX")}"
mkdir -p "$root"

hogs=()
stop_hogs() {
    [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null || true
    wait "${hogs[@]}" 2>/dev/null || true
    hogs=()
}
cleanup() {
    stop_hogs
    if [ "${MEMSWEEP_STRESS_KEEP:-0}" != 1 ]; then
        for ((k = 1; k <= n; k++)); do
            rm -rf -- "$root/clone-$k"
        done
    fi
}
trap cleanup EXIT
for ((h = 0; h < hogs_n; h++)); do
    yes >/dev/null &
    hogs+=($!)
done

echo "ci-stress: $n fresh clones of $head, CI=true scripts/test.sh in each, $hogs_n CPU hogs throughout; logs in $root"
green=0
for ((k = 1; k <= n; k++)); do
    dir="$root/clone-$k"
    rm -rf -- "$dir"
    git clone -q --no-hardlinks "$src" "$dir"
    git -C "$dir" checkout -q "$head"
    start=$SECONDS
    rc=0
    (cd "$dir" && CI=true scripts/test.sh) >"$root/run-$k.log" 2>&1 </dev/null || rc=$?
    took=$((SECONDS - start))
    summary="$(grep -E '^[0-9]+% tests passed' "$root/run-$k.log" | tr '\n' ';' | sed 's/;$//')"
    if [ "$rc" -eq 0 ]; then
        green=$((green + 1))
        echo "run $k: green in $((took / 60)) min $((took % 60)) s ($summary)"
    else
        echo "run $k: FAILED (exit $rc) after $((took / 60)) min $((took % 60)) s ($summary)"
        grep -E '\*\*\*Failed|\*\*\*Timeout|^FAIL|gates failed' "$root/run-$k.log" | head -n 20 | sed 's/^/  /'
    fi
done
echo "ci-stress: $green of $n green"
[ "$green" -eq "$n" ]
