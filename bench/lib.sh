# Shared by the benchmark scripts: locate the build, and a median helper.
# MS_BUILD_DIR, MS_BIN and MS_SHIM come from ctest; by hand they default to ./build.
set -euo pipefail
MS_SOURCE_DIR=${MS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MS_BUILD_DIR=${MS_BUILD_DIR:-$MS_SOURCE_DIR/build}
MS_BIN=${MS_BIN:-$MS_BUILD_DIR/memsweep}
MS_SHIM=${MS_SHIM:-$MS_BUILD_DIR/libmemsweep.so}
for f in "$MS_BIN" "$MS_SHIM"; do
  [ -e "$f" ] || { echo "bench: $f is missing; build first (cmake --build build)" >&2; exit 1; }
done

# Prints the median of its numeric arguments.
median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# Seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# Evaluates an arithmetic expression with awk (no bc needed): calc "1.5 / 3".
calc() { awk "BEGIN { printf \"%.9f\", $* }"; }
