# Hostile parameter values: what a shell would interpret (quotes, $(), backticks, ;, |,
# globs, newlines) reaches the worker byte for byte and runs nothing, labels stay on one
# line, and sweeps the kernel could not execute (an argument or a whole command too long)
# or that are too large are refused with one `memsweep: ...` line before anything starts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Workers run here, next to files that a glob would match.
W="$T/work"
mkdir "$W"
touch "$W/a-file" "$W/b-file"
cd "$W"
CANARIES=("$W/canary" "$T/canary" "$W/canary2")

# The worker writes each of its arguments followed by a NUL to stdout, exactly as received.
ARGV_DUMP=(python3 -c 'import os, sys
sys.stdout.buffer.write(b"".join(os.fsencode(a) + b"\0" for a in sys.argv[1:]))')

no_canary() {
    local c
    for c in "${CANARIES[@]}"; do
        [ ! -e "$c" ] || fail "$1: $c exists: a value was run by a shell"
    done
}

nl=$'\n'
values=(
    "a b"
    "it's"
    '"double"'
    "\$(touch $T/canary)"
    '$(touch canary)'
    '`touch canary2`'
    'x;touch canary'
    'x|touch canary'
    '&& touch canary'
    '> canary'
    '*'
    '~'
    '$HOME'
    "l1${nl}l2"
    "tab	end"
    '-rf'
    '{w}'
)
list="$(IFS=,; echo "${values[*]}")"

note "template mode: ${#values[@]} hostile values, each run's argv byte for byte"
run_cmd run "$MS_BIN" run -j 4 -o "$T/out" -P "v=$list" -P 'w={v}' -- \
    "${ARGV_DUMP[@]}" '{v}' 'pre-{v}-post' '{w}' '{run}'
assert_eq 0 "$RC" "exit status of the hostile sweep (stderr: $(cat "$T/run.err"))"
no_canary "the hostile sweep"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
assert_eq "${#values[@]}" "$(sql "$DB" "SELECT count(*) FROM runs WHERE status = 'ok'")" "ok runs"
for i in "${!values[@]}"; do
    seq=$((i + 1))
    log="$S/logs/$(printf 'run-%04d.out' "$seq")"
    # {w} is the literal text "{v}": a value is never expanded again.
    printf '%s\0' "${values[$i]}" "pre-${values[$i]}-post" '{v}' "$seq" >"$T/expected.$seq"
    cmp -s "$T/expected.$seq" "$log" ||
        fail "run $seq: the worker's argv differs from the value '${values[$i]}':
$(od -c "$log" | head -5)"
done

note "labels stay on one line; the command keeps the exact bytes"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM runs WHERE instr(label, char(10)) > 0
                          OR instr(label, char(9)) > 0")" "labels with a newline or a tab"
for i in "${!values[@]}"; do
    [ "${values[$i]}" != "l1${nl}l2" ] || nl_seq=$((i + 1))
done
assert_eq 'v=l1\nl2 w={v}' "$(sql "$DB" "SELECT label FROM runs WHERE seq = $nl_seq")" \
    "label of the run with a newline"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM runs WHERE seq = $nl_seq
                          AND instr(command, 'l1' || char(10) || 'l2') > 0")" \
    "command of the run with a newline holds it"
# Without a terminal every finished run is one stderr line.
assert_eq "${#values[@]}" "$(grep -c '^memsweep: run [0-9]*/[0-9]* ok ' "$T/run.err")" \
    "progress lines"
assert_eq "${#values[@]}" "$(wc -l <"$T/run.err")" "stderr lines of the hostile sweep"
grep -qF 'v=l1\nl2 w={v}' "$T/run.err" || fail "no progress line for the run with a newline"

note "a value with every byte from 1 to 255 but the comma"
all="$(python3 -c 'import sys; sys.stdout.buffer.write(bytes(b for b in range(1, 256) if b != 44))')"
printf '%s' "$all" | od -An -tx1 | grep -q ' 0a' || fail "the test value lacks a newline"
run_cmd allbytes "$MS_BIN" run -o "$T/out-all" -P "v=$all" -- "${ARGV_DUMP[@]}" '{v}' '<{v}>'
assert_eq 0 "$RC" "exit status with every byte in a value (stderr: $(cat "$T/allbytes.err"))"
printf '%s\0' "$all" "<$all>" >"$T/expected.all"
cmp -s "$T/expected.all" "$(sweep_dir_of "$T/out-all")/logs/run-0001.out" ||
    fail "the worker's argv differs from a value holding every byte"
assert_eq 1 "$(wc -l <"$T/allbytes.err")" "stderr lines with every byte in a value"
no_canary "the every-byte sweep"

note "about 1 MB of arguments, built from a 100000-byte value, reaches the worker"
big="$(head -c 100000 /dev/zero | tr '\0' x)"
ten=()
for i in $(seq 10); do
    ten+=("{v}")
done
run_cmd mb "$MS_BIN" run -o "$T/out-mb" -P "v=$big,small" -- "${ARGV_DUMP[@]}" "${ten[@]}"
assert_eq 0 "$RC" "exit status of the 1 MB sweep (stderr: $(head -c 600 "$T/mb.err"))"
S="$(sweep_dir_of "$T/out-mb")"
for i in $(seq 10); do
    printf '%s\0' "$big"
done >"$T/expected.mb"
assert_eq 1000010 "$(wc -c <"$T/expected.mb")" "size of the expected 1 MB argv"
cmp -s "$T/expected.mb" "$S/logs/run-0001.out" || fail "the worker's 1 MB argv differs"
# The label shows the start of the value only.
label="$(sql "$S/memsweep.db" "SELECT label FROM runs WHERE seq = 1")"
assert_eq "v=$(head -c 100 /dev/zero | tr '\0' x)..." "$label" "label of a 100000-byte value"
assert_le "$(head -n 1 "$T/mb.err" | wc -c)" 300 "bytes of the 1 MB sweep's progress line"

# expect_refused STATUS NEEDLE CMD...: CMD exits with STATUS before any run starts: one
# "memsweep: ..." line mentioning NEEDLE (and the help hint for a usage error), nothing on
# stdout, no sweep directory, no canary, and $T/ran, which the sweeps' command would
# create, does not exist.
n_case=0
expect_refused() {
    local status="$1" needle="$2" err first
    shift 2
    n_case=$((n_case + 1))
    rm -rf "$T/refused"
    run_cmd refused$n_case "$@"
    err="$T/refused$n_case.err"
    first="$(sed -n 1p "$err")"
    note "refused with $RC: $(printf '%s' "$first" | cut -c1-200)"
    assert_eq "$status" "$RC" "case $n_case: exit status (stderr: $(head -c 600 "$err"))"
    assert_empty "$T/refused$n_case.out" "case $n_case: stdout"
    [[ "$first" == "memsweep: "?* ]] || fail "case $n_case: expected 'memsweep: ...', got '$first'"
    grep -qF -- "$needle" <<<"$first" || fail "case $n_case: expected '$needle' in '$first'"
    if [ "$status" = 2 ]; then
        assert_eq 2 "$(wc -l <"$err")" "case $n_case: stderr lines"
        assert_eq "Try 'memsweep run --help'." "$(sed -n 2p "$err")" "case $n_case: the help hint"
    else
        assert_eq 1 "$(wc -l <"$err")" "case $n_case: stderr lines"
    fi
    assert_le "$(wc -c <"$err")" 700 "case $n_case: bytes of the message"
    [ ! -e "$T/refused" ] || fail "case $n_case: a sweep directory was created: $(ls -A "$T/refused")"
    [ ! -e "$T/ran" ] || fail "case $n_case: the sweep's command ran"
    no_canary "case $n_case"
}
R=(-o "$T/refused")
RAN=(touch "$T/ran")

note "empty values are refused"
expect_refused 2 "empty parameter list" "$MS_BIN" run "${R[@]}" -P 'v=' -- "${RAN[@]}" '{v}'
expect_refused 2 "empty value in list 'a,,b'" "$MS_BIN" run "${R[@]}" -P 'v=a,,b' -- "${RAN[@]}"
expect_refused 2 "empty value" "$MS_BIN" run "${R[@]}" -P 'v=a,' -- "${RAN[@]}"

note "names and ranges with hostile text: refused on one line"
expect_refused 2 "invalid parameter name 'v\\n\$(touch canary)'" \
    "$MS_BIN" run "${R[@]}" -P "v${nl}\$(touch canary)=1" -- "${RAN[@]}"
expect_refused 2 "invalid range '1..\\n3'" "$MS_BIN" run "${R[@]}" -P "v=1..${nl}3" -- "${RAN[@]}"
expect_refused 2 "invalid parameter name '\\x1b[2J'" "$MS_BIN" run "${R[@]}" -P $'\e[2J=1' \
    -- "${RAN[@]}"
expect_refused 2 "unknown placeholder '{x}' in 'a\\nb{x}'" "$MS_BIN" run "${R[@]}" -P v=1 \
    -- "${RAN[@]}" "a${nl}b{x}"

note "too many runs"
expect_refused 2 "range '1..1000000000' has more than 1000000 values" \
    "$MS_BIN" run "${R[@]}" -P v=1..1000000000 -- "${RAN[@]}"
expect_refused 2 "more than 1000000 values" "$MS_BIN" run "${R[@]}" -P v=0..9223372036854775807 \
    -- "${RAN[@]}"
expect_refused 2 "parameter 'w': its 2 values would make more than 1000000 runs" \
    "$MS_BIN" run "${R[@]}" -P v=1..1000000 -P w=1,2 -- "${RAN[@]}"
expect_refused 2 "parameter 'x': its 2 values would make more than 1000000 runs" \
    "$MS_BIN" run "${R[@]}" -P v=1..1000 -P w=1..1000 -P x=a,b -- "${RAN[@]}"
# Refused as soon as the product is too large, before the next range is built.
expect_refused 2 "parameter 'w': its 1000000 values would make more than 1000000 runs" \
    "$MS_BIN" run "${R[@]}" -P v=1,2 -P w=1..1000000 -P x=1..1000000 -P y=1..1000000 \
    -- "${RAN[@]}"

note "arguments the kernel would refuse: found before the first run"
# One argument over MAX_ARG_STRLEN (131072 bytes with its NUL).
expect_refused 1 "run 1 (v=xxxx" "$MS_BIN" run "${R[@]}" -P "v=$big" -- "${RAN[@]}" '{v}{v}'
grep -qF "argv[2] would be 200000 bytes long; the system accepts at most 131071" \
    "$T/refused$n_case.err" || fail "the message does not say which argument and limit"
# Only the runs with the long value are too long: the first of them is named, after
# 100000 runs that would have run.
half="$(head -c 70000 /dev/zero | tr '\0' L)"
expect_refused 1 "run 100001 (v=LLL" "$MS_BIN" run "${R[@]}" -P "v=short,$half" -P k=1..100000 \
    -- "${RAN[@]}" '{v}{v}'
grep -qF "... k=1): argv[2] would be 140000 bytes long" "$T/refused$n_case.err" ||
    fail "the message does not name run 100001 and its argument"
# A million runs, of which only the last has a seven-digit value that makes it too long.
pad="$(head -c $((131072 - 7)) /dev/zero | tr '\0' p)"
expect_refused 1 "run 1000000 (v=1000000): argv[2] would be 131072 bytes long" \
    "$MS_BIN" run "${R[@]}" -P v=1..1000000 -- "${RAN[@]}" "${pad}{v}"
# More than ARG_MAX in all: arguments of 100000 bytes, more of them than ARG_MAX holds
# (Linux never takes more than 6 MiB, whatever the stack limit).
arg_max="$(getconf ARG_MAX)"
[ "$arg_max" -le 6291456 ] || arg_max=6291456
many=()
for i in $(seq $((arg_max / 100000 + 1))); do
    many+=("{v}")
done
expect_refused 1 "the command would take" "$MS_BIN" run "${R[@]}" -P "v=$big" -- "${RAN[@]}" "${many[@]}"
grep -qF "the system accepts at most $arg_max (ARG_MAX)" "$T/refused$n_case.err" ||
    fail "the message does not give ARG_MAX ($arg_max)"

note "a commands file with a 1 MB line is refused before its first line runs"
{
    echo "touch $T/ran"
    head -c 1000000 /dev/zero | tr '\0' y
    echo
} >"$T/commands.txt"
run_cmd cmds "$MS_BIN" run -o "$T/refused" --commands "$T/commands.txt"
assert_eq 1 "$RC" "exit status with a 1 MB command line (stderr: $(head -c 600 "$T/cmds.err"))"
assert_eq "memsweep: $T/commands.txt: command 2 is 1000000 bytes long; the system accepts at most 131071 for the command line of sh -c" \
    "$(cat "$T/cmds.err")" "message for a 1 MB command line"
[ ! -e "$T/refused" ] || fail "a sweep directory was created for the 1 MB command line"
[ ! -e "$T/ran" ] || fail "the first command ran although the second cannot"

note "$n_case refused sweeps checked"
pass
