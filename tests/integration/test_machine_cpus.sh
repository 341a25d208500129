# The CPUs a sweep may use: the default -j of memsweep run follows the process's CPU
# affinity (taskset), not the machine's online CPUs; the advisory states the count in both
# sections (CPUs), sweeps.cpus records it, and a note says when memory would admit more
# workers than there are CPUs, without changing the specification's recommendations.
# `memsweep advise` on a database that did not record the CPUs (before schema version 4)
# states none, and says nothing of the CPUs of the machine it runs on; its memory source
# is /proc/meminfo, the machine's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v taskset >/dev/null || skip_missing util-linux "taskset is not installed"
NCPU="$(affinity_cpus)"
FIRST_CPU="$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')"

# overlapping DB: how many pairs of runs were running at the same time.
overlapping() {
    sql "$1" "SELECT count(*) FROM runs a JOIN runs b ON a.seq < b.seq
              WHERE a.started_ns < b.finished_ns AND b.started_ns < a.finished_ns"
}

note "taskset -c $FIRST_CPU: one CPU, -j 1"
run_cmd pinned taskset -c "$FIRST_CPU" "$MS_BIN" run -o "$T/pinned" -P n=1..3 -- \
    "$WL" --mib 8 --hold-ms 300
assert_eq 0 "$RC" "exit status of memsweep run under taskset (stderr: $(cat "$T/pinned.err"))"
S="$(sweep_dir_of "$T/pinned")"
ADV="$S/memory_advisory.txt"
DB="$S/memsweep.db"
assert_eq "1|1" "$(sql "$DB" "SELECT jobs, cpus FROM sweeps")" "sweeps: jobs and cpus"
assert_eq 0 "$(overlapping "$DB")" "runs that overlapped with the default -j"
check_machine "$ADV" "taskset" "CPUs=1"
check_machine "$T/pinned.out" "stdout under taskset" "CPUs=1"
# The specification's recommendation stays the memory's; the note says the CPU is the
# limit and names that same figure.
conservative="$(post_field "$ADV" RecommendedMaxWorkers_Conservative)"
assert_int "$conservative" "RecommendedMaxWorkers_Conservative"
run_figures "$DB" >"$T/fig.txt"
expected_advisory "$T/fig.txt" "$(post_field "$ADV" MemTotal_MB)" "$(post_field "$ADV" Reserve_MB)" \
    >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "the memory's recommendations under taskset"
if [ "$conservative" -gt 1 ]; then
    assert_contains "$ADV" "Note: memory admits $conservative workers, but this sweep may use 1 CPU, so CPU, not memory, limits how many workers run at once." \
        "the note on CPUs"
else
    fail "memory admits only $conservative worker of 8 MiB: this machine is too small for the test"
fi

note "without taskset: the CPUs of the affinity ($NCPU)"
run_cmd free "$MS_BIN" run -o "$T/free" -P n=1..2 -- "$WL" --mib 8
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/free.err"))"
S2="$(sweep_dir_of "$T/free")"
assert_eq "$NCPU|$NCPU" "$(sql "$S2/memsweep.db" "SELECT jobs, cpus FROM sweeps")" "sweeps: jobs and cpus"
check_machine "$S2/memory_advisory.txt" "without taskset" "CPUs=$NCPU"
if [ "$NCPU" -lt 2 ]; then
    skip_part "a single CPU in the affinity: pinning to one cannot change the count"
fi

note "an explicit -j stays the user's; the CPUs are still stated"
run_cmd pinned_j taskset -c "$FIRST_CPU" "$MS_BIN" run -j 2 -o "$T/pinned_j" -- "$WL" --mib 8
assert_eq 0 "$RC" "exit status of memsweep run -j 2 under taskset (stderr: $(cat "$T/pinned_j.err"))"
assert_eq "2|1" "$(sql "$(sweep_dir_of "$T/pinned_j")/memsweep.db" "SELECT jobs, cpus FROM sweeps")" \
    "sweeps: jobs and cpus with -j 2"

note "advise on a database from before schema version 4: no CPUs, the machine's MemTotal"
OLD="$T/old.db"
sqlite3 "$DB" ".backup '$OLD'"
sqlite3 -bail "$OLD" "ALTER TABLE sweeps DROP COLUMN cpus;
ALTER TABLE sweeps DROP COLUMN mem_source;
ALTER TABLE sweeps DROP COLUMN host_mem_total_kb;
PRAGMA user_version = 3;"
run_cmd old taskset -c "$FIRST_CPU" "$MS_BIN" advise "$OLD"
assert_eq 0 "$RC" "exit status of advise on the old database (stderr: $(cat "$T/old.err"))"
check_machine "$T/old.out" "the old database" "CPUs=" "MemSource=/proc/meminfo" \
    "HostMemTotal_MB=$(post_field "$ADV" MemTotal_MB)" "ReserveRule=$RULE_MACHINE"
assert_eq "" "$(grep -E 'CPU' "$T/old.out" || true)" "lines about CPUs for the old database"
check_advisory "$T/expected.txt" "$T/old.out" "the old database's recommendations"
run_cmd old_json "$MS_BIN" advise --json "$OLD"
assert_eq 0 "$RC" "exit status of advise --json on the old database"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit("CPUs" in d or d.get("MemSource") != "/proc/meminfo")' \
    "$T/old_json.out" || fail "advise --json on the old database: CPUs or MemSource ($(cat "$T/old_json.out"))"
# A version 4 database whose cpus is NULL (written by the shim alone) reads the same.
sqlite3 "$DB" ".backup '$T/null.db'"
sqlite3 -bail "$T/null.db" "UPDATE sweeps SET cpus = NULL"
run_cmd null "$MS_BIN" advise "$T/null.db"
assert_eq 0 "$RC" "exit status of advise with sweeps.cpus NULL"
assert_eq "" "$(grep -E 'CPU' "$T/null.out" || true)" "lines about CPUs with sweeps.cpus NULL"

pass
