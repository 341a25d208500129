# Bad input: one `memsweep: ...` line (and the help hint for usage errors), the documented
# exit status, nothing on stdout, no sweep directory and no run where the error is found
# before starting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ran="$T/ran-marker"
OUT="$T/out"
n_case=0

# expect_error STATUS SUB NEEDLE CMD...: CMD fails with STATUS; stderr is exactly
# "memsweep: ..." mentioning NEEDLE, followed for a usage error (STATUS 2) by
# "Try 'memsweep[ SUB] --help'."; stdout is empty; the command of the sweep never ran and
# $OUT holds no sweep directory.
expect_error() {
    local status="$1" sub="$2" needle="$3" what
    shift 3
    what="'memsweep ${*:2}'"
    n_case=$((n_case + 1))
    run_cmd case$n_case "$@"
    local err="$T/case$n_case.err"
    note "$what: status $RC: $(sed -n 1p "$err")"
    assert_eq "$status" "$RC" "$what: exit status (stderr: $(cat "$err"))"
    assert_empty "$T/case$n_case.out" "$what: stdout"
    [[ "$(sed -n 1p "$err")" == "memsweep: "?* ]] ||
        fail "$what: expected a first stderr line 'memsweep: ...', got '$(sed -n 1p "$err")'"
    grep -qF -- "$needle" <(sed -n 1p "$err") ||
        fail "$what: expected the message to mention '$needle', got '$(sed -n 1p "$err")'"
    if [ "$status" = 2 ]; then
        assert_eq 2 "$(wc -l <"$err")" "$what: stderr lines"
        assert_eq "Try 'memsweep${sub:+ $sub} --help'." "$(sed -n 2p "$err")" "$what: second stderr line"
    else
        assert_eq 1 "$(wc -l <"$err")" "$what: stderr lines"
    fi
    [ ! -e "$ran" ] || fail "$what: the sweep's command ran"
    if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
        fail "$what: left behind in $OUT: $(ls -A "$OUT")"
    fi
}

CMD=(touch "$ran")

note "memsweep run"
expect_error 2 run "--no-such-option" "$MS_BIN" run --no-such-option -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "0" "$MS_BIN" run -j 0 -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "x" "$MS_BIN" run -j x -o "$OUT" -- "${CMD[@]}"
# strtoll would skip the blank; a number is a sign and digits only.
expect_error 2 run "jobs ' 4'" "$MS_BIN" run -j ' 4' -o "$OUT" -- "${CMD[@]}"
# A newline in the user's text stays inside the one line of the message.
expect_error 2 run 'jobs '"'"'4\x0a5'"'" "$MS_BIN" run -j $'4\n5' -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "empty parameter list" "$MS_BIN" run -o "$OUT" -P a= -- "${CMD[@]}"
expect_error 2 run "1..x" "$MS_BIN" run -o "$OUT" -P a=1..x -- "${CMD[@]}"
expect_error 2 run "1a" "$MS_BIN" run -o "$OUT" -P 1a=3 -- "${CMD[@]}"
expect_error 2 run "{x}" "$MS_BIN" run -o "$OUT" -P a=1,2 -- "${CMD[@]}" "{a}{x}"
expect_error 2 run "command" "$MS_BIN" run -o "$OUT" -P a=1,2
expect_error 2 run "command" "$MS_BIN" run -o "$OUT" --
# The memory a sweep may use and its reserve: whole MiB, at least 1 and 0.
expect_error 2 run "--mem-total-mb: '0'" "$MS_BIN" run --mem-total-mb 0 -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--mem-total-mb: '-600'" "$MS_BIN" run --mem-total-mb -600 -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--mem-total-mb: '600M'" "$MS_BIN" run --mem-total-mb 600M -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--mem-total-mb: '1.5'" "$MS_BIN" run --mem-total-mb 1.5 -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--mem-total-mb: ''" "$MS_BIN" run --mem-total-mb '' -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--mem-total-mb: '1099511627777'" "$MS_BIN" run --mem-total-mb 1099511627777 -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--reserve-mb: '-1'" "$MS_BIN" run --reserve-mb -1 -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--reserve-mb: 'lots'" "$MS_BIN" run --reserve-mb lots -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "--reserve-mb: ' 64'" "$MS_BIN" run --reserve-mb ' 64' -o "$OUT" -- "${CMD[@]}"
expect_error 2 run "requires an argument" "$MS_BIN" run -o "$OUT" --reserve-mb
expect_error 1 "" "$T/nonexistent" "$MS_BIN" run -o "$OUT" --commands "$T/nonexistent"
printf '# only a comment\n\n   # and another\n' >"$T/comments.txt"
expect_error 1 "" "no command" "$MS_BIN" run -o "$OUT" --commands "$T/comments.txt"
touch "$T/file"
expect_error 1 "" "$T/file" "$MS_BIN" run -o "$T/file/sub" -- "${CMD[@]}"
[ ! -e "$T/file/sub" ] && [ ! -s "$T/file" ] || fail "the launcher touched $T/file"

note "memsweep advise"
head -c 65536 /dev/urandom >"$T/random.bin"
expect_error 1 "" "$T/random.bin" "$MS_BIN" advise "$T/random.bin"
sqlite3 "$T/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
expect_error 1 "" "not a memsweep database" "$MS_BIN" advise "$T/other.db"
# A real memsweep database from the shim, copied and given a newer schema version.
env MEMSWEEP_DB="$T/real.db" LD_PRELOAD="$MS_SHIM" "$WL" --mib 1
schema_version="$(sed -n 's/^#define MS_SCHEMA_VERSION \([0-9]*\)$/\1/p' "$MS_SOURCE_DIR/include/memsweep/schema.h")"
assert_eq "$((0x4D535750))|$schema_version" "$(sql "$T/real.db" "PRAGMA application_id; PRAGMA user_version" | paste -sd'|')" \
    "application_id and user_version of a memsweep database"
sqlite3 "$T/real.db" ".backup '$T/newer.db'"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99"
assert_eq "$((0x4D535750))|99" "$(sql "$T/newer.db" "PRAGMA application_id; PRAGMA user_version" | paste -sd'|')" \
    "application_id and user_version of the bumped copy"
expect_error 1 "" "99" "$MS_BIN" advise "$T/newer.db"
# The unmodified copy is accepted: the failure above is the version, not the copy.
run_cmd real "$MS_BIN" advise "$T/real.db"
assert_eq 0 "$RC" "exit status of advise on the real database (stderr: $(cat "$T/real.err"))"
mkdir "$T/emptydir"
expect_error 1 "" "$T/emptydir" "$MS_BIN" advise "$T/emptydir"
expect_error 1 "" "$T/missing" "$MS_BIN" advise "$T/missing"
expect_error 2 advise "PATH" "$MS_BIN" advise
expect_error 2 advise "--bogus" "$MS_BIN" advise --bogus "$T/real.db"
expect_error 2 advise "does not take an argument" "$MS_BIN" advise --json=1 "$T/real.db"
expect_error 2 advise "requires an argument" "$MS_BIN" advise "$T/real.db" --mem-total-mb
expect_error 2 advise "--mem-total-mb: '0'" "$MS_BIN" advise --mem-total-mb 0 "$T/real.db"
expect_error 2 advise "--reserve-mb: '-1'" "$MS_BIN" advise --reserve-mb -1 "$T/real.db"
# Options may follow PATH, as in the README's examples.
run_cmd after "$MS_BIN" advise "$T/real.db" --mem-total-mb 65536 --json
assert_eq 0 "$RC" "exit status of advise with options after PATH (stderr: $(cat "$T/after.err"))"
assert_contains "$T/after.out" '"MemTotal_MB":65536' "advise with --mem-total-mb after PATH"

note "memsweep itself"
expect_error 2 "" "bogus" "$MS_BIN" bogus
expect_error 2 "" "no command" "$MS_BIN"
run_cmd version "$MS_BIN" --version
assert_eq 0 "$RC" "exit status of memsweep --version"
want="$(sed -n 's/^#define MS_VERSION "\(.*\)"$/\1/p' "$MS_SOURCE_DIR/include/memsweep/version.h")"
[ -n "$want" ] || fail "no MS_VERSION in include/memsweep/version.h"
assert_contains "$T/version.out" "$want" "memsweep --version"
assert_empty "$T/version.err" "stderr of memsweep --version"
for sub in "" run advise; do
    run_cmd help "$MS_BIN" $sub --help
    assert_eq 0 "$RC" "exit status of 'memsweep $sub --help'"
    assert_contains "$T/help.out" "Usage: memsweep${sub:+ $sub}" "stdout of 'memsweep $sub --help'"
    assert_empty "$T/help.err" "stderr of 'memsweep $sub --help'"
done

note "$n_case error cases checked"
pass
