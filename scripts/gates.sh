#!/usr/bin/env bash
# The gates after the test suite, each in a build tree of its own (docs/reliability.md):
#   cycles  no two source files call each other in a circle, the shim's included, and the
#         command's directories depend one way (scripts/check_cycles.sh)
#   asan  the unit and integration tests with the launcher, the analyzer and the tests built
#         with AddressSanitizer and UndefinedBehaviorSanitizer (undefined behaviour aborts)
#   fuzz  every libFuzzer target tests/fuzz/fuzz_<name>.c: its committed corpus replayed,
#         then MEMSWEEP_FUZZ_SECONDS (default 60) of fuzzing from a copy of that corpus
# The build trees go in MEMSWEEP_GATES_BUILD (default: build-gates/ here). With CI=true
# warnings are errors. Every gate runs; the script fails if any of them did, and names the
# reproducer of each fuzzing crash.
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"
root="${MEMSWEEP_GATES_BUILD:-$src/build-gates}"
seconds="${MEMSWEEP_FUZZ_SECONDS:-60}"
jobs="$(nproc)"
werror=OFF
[ "${CI:-}" = true ] && werror=ON

if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "memsweep: MEMSWEEP_FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
fi
scripts/deps.sh

tmp="$(mktemp -d "${TMPDIR:-/tmp}/memsweep-gates.XXXXXX")"
trap 'rm -rf -- "$tmp"' EXIT

# Findings go to the sanitizers' reports with a stack; a leak fails a test as well.
# (strict_string_checks would make every strchr scan the rest of its string: a list of
# 100000 values would take minutes to parse.)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

say() {
    printf 'gates: %s\n' "$*" >&2
}

configure() {
    local dir="$1"
    shift
    cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMSWEEP_WERROR="$werror" \
        "$@" >/dev/null
}

gate_cycles() {
    configure "$root/cycles" -G "Unix Makefiles" &&
        scripts/check_cycles.sh --preload-errors "$root/cycles"
}

gate_asan() {
    configure "$root/asan" -DMEMSWEEP_SANITIZE='address;undefined' &&
        cmake --build "$root/asan" -j "$jobs" >/dev/null &&
        ctest --test-dir "$root/asan" -LE 'bench|load' --output-on-failure -j 2
}

gate_fuzz() {
    local dir="$root/fuzz" names=() name f status=0 pids=()

    for f in "$src"/tests/fuzz/fuzz_*.c; do
        [ -e "$f" ] || continue
        name="$(basename "$f" .c)"
        names+=("${name#fuzz_}")
    done
    if [ ${#names[@]} -eq 0 ]; then
        say "no tests/fuzz/fuzz_*.c"
        return 0
    fi
    configure "$dir" -DCMAKE_C_COMPILER=clang -DMEMSWEEP_FUZZ=ON &&
        cmake --build "$dir" -j "$jobs" --target "${names[@]/#/fuzz_}" >/dev/null &&
        ctest --test-dir "$dir" -L fuzz --output-on-failure || return 1
    [ "$seconds" -gt 0 ] || return 0

    # The fuzzers run side by side; each finds its reproducers under $dir/artifacts/.
    mkdir -p "$dir/artifacts"
    for name in "${names[@]}"; do
        mkdir -p "$tmp/corpus-$name"
        cp -R "$src/tests/fuzz/corpus/$name/." "$tmp/corpus-$name/"
        "$dir/fuzz_$name" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2560 \
            -print_final_stats=1 -artifact_prefix="$dir/artifacts/fuzz_$name-" \
            "$tmp/corpus-$name" >"$tmp/fuzz_$name.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!names[@]}"; do
        name="${names[$i]}"
        if wait "${pids[$i]}"; then
            say "fuzz_$name: $(grep -m1 '^stat::number_of_executed_units' "$tmp/fuzz_$name.log" |
                awk '{ print $2 }') inputs in $seconds s, no crash"
            continue
        fi
        status=1
        tail -n 60 "$tmp/fuzz_$name.log" >&2
        f="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$tmp/fuzz_$name.log" | tail -n 1)"
        if [ -n "$f" ]; then
            say "fuzz_$name crashed; reproducer: $f (replay: $dir/fuzz_$name $f)"
        else
            say "fuzz_$name failed without a reproducer; its log ends above"
        fi
    done
    return $status
}

failed=()
for gate in cycles asan fuzz; do
    say "$gate: start"
    start=$SECONDS
    if "gate_$gate"; then
        say "$gate: passed in $((SECONDS - start)) s"
    else
        say "$gate: FAILED after $((SECONDS - start)) s"
        failed+=("$gate")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "memsweep: gates failed: ${failed[*]}" >&2
    exit 1
fi
say "all passed in $SECONDS s"
