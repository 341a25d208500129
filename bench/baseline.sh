#!/usr/bin/env bash
# Builds the shim and memsweep of a git revision into a directory of their own, so that a
# benchmark can run that revision ("baseline") and this tree side by side in one
# invocation. A build already there is reused. Prints two lines: the path of the
# baseline's libmemsweep.so, then the path of its memsweep.
#
# Usage: bench/baseline.sh [REF]
#   REF   any git revision (default: the merge-base of HEAD and the branch main)
# The sources of REF are exported with `git archive` (the working tree is not touched)
# into $MEMSWEEP_BASELINE_DIR, default /tmp/memsweep-baseline-<short sha>, and built in
# its build/ subdirectory. The benchmarks take that directory as `--baseline DIR` or in
# MS_BASELINE, e.g.
#   bench/bench_floor.sh --baseline /tmp/memsweep-baseline-e8c0dfa
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in
  -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 1 ] || { echo "baseline: usage: baseline.sh [REF]" >&2; exit 2; }

if [ $# -eq 1 ]; then
  ref=$1
else
  ref=$(git -C "$src" merge-base HEAD main) ||
    { echo "baseline: no merge-base of HEAD and main; pass a REF" >&2; exit 2; }
fi
sha=$(git -C "$src" rev-parse --verify --quiet "$ref^{commit}") ||
  { echo "baseline: $ref: not a commit of $src" >&2; exit 2; }
short=$(git -C "$src" rev-parse --short=7 "$sha")
dir=${MEMSWEEP_BASELINE_DIR:-/tmp/memsweep-baseline-$short}
shim=$dir/build/libmemsweep.so
bin=$dir/build/memsweep

mkdir -p "$dir"
# Two benchmarks started at once build the baseline once.
exec 9>"$dir/.lock"
flock 9
if [ -f "$dir/.commit" ] && [ "$(cat "$dir/.commit")" != "$sha" ]; then
  echo "baseline: $dir holds the build of $(cat "$dir/.commit"), not of $sha;" \
    "remove it or set MEMSWEEP_BASELINE_DIR" >&2
  exit 1
fi
if [ ! -f "$dir/.commit" ] || [ ! -e "$shim" ] || [ ! -e "$bin" ]; then
  echo "baseline: building $short ($(git -C "$src" log -1 --format=%s "$sha" | cut -c1-60)) in $dir" >&2
  rm -rf "$dir/src"
  mkdir "$dir/src"
  git -C "$src" archive "$sha" | tar -x -C "$dir/src"
  {
    cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
    cmake --build "$dir/build" -j "$(nproc)" --target memsweep memsweep_shim
  } >"$dir/build.log" 2>&1 || { echo "baseline: build failed; see $dir/build.log" >&2; exit 1; }
  echo "$sha" >"$dir/.commit"
fi
echo "$shim"
echo "$bin"
