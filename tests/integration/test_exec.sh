# `memsweep exec` under other runners: the command's standard streams and exit status
# (a death by a signal included) pass through untouched; GNU parallel, xargs -P and make
# -j each build a sweep of shards whose runs carry what the workload touched; execs that
# start at once on a new directory write one pre-run section; the same shard given twice
# counts once, and `merge` equals the shards; an exec killed with its command leaves its
# samples, and `collect` gives the run its end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# fig DB SQL: one value from a database read with sqlite3 (no pending pools here).
q() {
    sqlite3 -batch -noheader -bail "$1" "$2"
}

# peak_of SWEEP LABEL: the largest RSS sample or VmHWM, in MiB, of the run labelled LABEL.
peak_of() {
    local m="$T/peak-$RANDOM.db"
    "$MS_BIN" merge "$m" "$1" 2>/dev/null
    q "$m" "SELECT round(max(v) / 1024.0, 1) FROM (SELECT max(s.rss_kb) AS v FROM samples s
             JOIN processes p USING (proc_id) JOIN runs r USING (run_id) WHERE r.label = '$2'
           UNION ALL SELECT max(p.hwm_kb) FROM processes p JOIN runs r USING (run_id)
             WHERE r.label = '$2')"
    rm -f "$m"
}

note "streams and exit status pass through"
D="$T/basic"
RC=0
printf 'in\n' | "$MS_BIN" exec --sweep "$D" -- sh -c 'cat; echo to-err >&2; exit 7' \
    >"$T/b.out" 2>"$T/b.err" || RC=$?
assert_eq 7 "$RC" "exit status of a command that exits 7"
assert_eq in "$(cat "$T/b.out")" "standard output (the command read standard input)"
assert_eq to-err "$(cat "$T/b.err")" "standard error holds the command's line alone"

for sig in TERM KILL SEGV; do
    got="$(python3 -c 'import subprocess, sys
print(subprocess.run(sys.argv[1:]).returncode)' "$MS_BIN" exec --sweep "$D" -- \
        sh -c "kill -$sig \$\$" 2>/dev/null)"
    want="$(python3 -c "import signal; print(-signal.SIG$sig)")"
    assert_eq "$want" "$got" "what a parent sees of a command killed by SIG$sig"
done

RC=0
"$MS_BIN" exec --sweep "$D" -- ms-no-such-program >"$T/nf.out" 2>"$T/nf.err" || RC=$?
assert_eq 127 "$RC" "exit status for a command not found"
assert_contains "$T/nf.err" "ms-no-such-program" "the not-found message"

RC=0
env -u MEMSWEEP_SWEEP "$MS_BIN" exec -- true 2>"$T/u.err" || RC=$?
assert_eq 2 "$RC" "exec without a sweep directory"
assert_contains "$T/u.err" "memsweep: no sweep directory" "the usage message"
RC=0
MEMSWEEP_SWEEP="$D" "$MS_BIN" exec --label novalue -- true 2>"$T/u2.err" || RC=$?
assert_eq 2 "$RC" "a label without NAME=VALUE"

note "a runner that ignores SIGCHLD"
RC=0
timeout -k 5 120 perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV or die' \
    "$MS_BIN" exec --sweep "$D" -- sh -c 'exit 5' || RC=$?
assert_eq 5 "$RC" "exit status under a runner that ignores SIGCHLD (124 or 137: a hang)"
# SigIgn bit 16 is SIGCHLD (17): the command gets it ignored, as its runner left it.
want="$(perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV or die' grep SigIgn /proc/self/status)"
got="$(perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV or die' "$MS_BIN" exec --sweep "$D" -- \
    grep SigIgn /proc/self/status)"
assert_eq "$want" "$got" "the signals the command ignores, under a runner that ignores SIGCHLD"

note "a signal sent to exec alone reaches the command"
"$MS_BIN" exec --sweep "$D" --label fw=1 -- sh -c 'trap "echo got-term; exit 42" TERM;
    touch "$0"; while :; do sleep 0.05; done' "$T/fw-ready" >"$T/fw.out" 2>&1 &
ex=$!
track_pid "$ex"
wait_for 60 test -e "$T/fw-ready" || fail "the command did not start within 60 s"
kill -TERM "$ex"
RC=0
wait "$ex" || RC=$?
assert_eq 42 "$RC" "exit status after SIGTERM to exec (the command's trap exits 42)"
assert_eq got-term "$(cat "$T/fw.out")" "the command's trap ran"

"$MS_BIN" advise "$D" >"$T/basic.adv"
assert_eq 8 "$(post_field "$T/basic.adv" RunsTotal)" "runs of the basic sweep"
assert_eq 1 "$(grep -c '^Pre-run Memory Advisory$' "$D/memory_advisory.txt")" "pre-run sections"

note "execs started at once on a new directory"
C="$T/new/deeper/sweep"
pids=()
for i in 1 2 3 4 5 6 7 8; do
    "$MS_BIN" exec --sweep "$C" --label i=$i -- true &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "an exec started together with others failed"
done
assert_eq 1 "$(grep -c '^Pre-run Memory Advisory$' "$C/memory_advisory.txt")" \
    "pre-run sections written by 8 execs at once"
assert_eq 8 "$(find "$C/shards" -name '*.db' ! -name '.*' | wc -l)" "shards of 8 execs"
assert_eq 0 "$(find "$C" -name '.*' -type f | wc -l)" "temporary files left behind"
assert_eq 0 "$(find "$C/spool" -type f | wc -l)" "pools left behind by finished runs"

note "GNU parallel"
P="$T/par"
if command -v parallel >/dev/null; then
    parallel -j 3 "$MS_BIN" exec --sweep "$P" --label mib={} -- "$WL" --mib {} --hold-ms 100 \
        ::: 24 48 96 >"$T/par.out" 2>"$T/par.err" || fail "parallel failed: $(cat "$T/par.err")"
    "$MS_BIN" advise "$P" >"$T/par.adv"
    assert_eq 3 "$(post_field "$T/par.adv" RunsIncluded)" "runs of the parallel sweep"
    for mib in 24 48 96; do
        assert_between "$(peak_of "$P" "mib=$mib")" "$mib" $((mib + MIB_TOL)) \
            "peak MiB of the run that touched $mib MiB under parallel"
    done
    "$MS_BIN" merge "$T/par.db" "$P" 2>/dev/null
    assert_eq "1 2 3" "$(q "$T/par.db" "SELECT group_concat(seq, ' ') FROM
        (SELECT seq FROM runs ORDER BY seq)")" "run numbers from PARALLEL_SEQ"
    RC=0
    parallel -j 2 "$MS_BIN" exec --sweep "$P" -- "$WL" --exit {} ::: 0 3 >/dev/null 2>&1 || RC=$?
    assert_eq 1 "$RC" "parallel's exit status: one job failed"
else
    skip_part_missing parallel "GNU parallel is not installed"
fi

note "xargs -P"
X="$T/xargs"
printf '%s\n' 24 48 | xargs -P 2 -I{} "$MS_BIN" exec --sweep "$X" --label mib={} -- \
    "$WL" --mib {} --hold-ms 100 >/dev/null
RC=0
printf '%s\n' 3 | xargs -I{} "$MS_BIN" exec --sweep "$X" --label exit={} -- "$WL" --exit {} \
    >/dev/null || RC=$?
assert_eq 123 "$RC" "xargs's exit status when a command exits 3"
"$MS_BIN" advise "$X" >"$T/x.adv"
assert_eq 3 "$(post_field "$T/x.adv" RunsTotal)" "runs of the xargs sweep"
assert_eq 1 "$(post_field "$T/x.adv" RunsFailed)" "failed runs of the xargs sweep"
assert_between "$(peak_of "$X" "mib=48")" 48 $((48 + MIB_TOL)) "peak MiB under xargs"

note "make -j"
M="$T/make"
mkdir -p "$T/mk"
cat >"$T/mk/Makefile" <<EOF
all: a b c
a b c:
	"$MS_BIN" exec --sweep "$M" --label target=\$@ -- "$WL" --mib 32 --hold-ms 100
EOF
make -s -j 3 -C "$T/mk" >/dev/null
"$MS_BIN" advise "$M" >"$T/m.adv"
assert_eq 3 "$(post_field "$T/m.adv" RunsIncluded)" "runs of the make sweep"
assert_between "$(peak_of "$M" "target=b")" 32 $((32 + MIB_TOL)) "peak MiB under make"

note "the same shard twice counts once; merge equals its shards"
one="$(find "$X/shards" -name '*.db' ! -name '.*' | head -n 1)"
"$MS_BIN" advise "$X" "$one" >"$T/x2.adv"
diff "$T/x.adv" "$T/x2.adv" >/dev/null || fail "advise with a shard given twice differs"
"$MS_BIN" merge "$T/x-merged.db" "$X" 2>"$T/merge.err"
"$MS_BIN" advise "$T/x-merged.db" >"$T/xm.adv"
diff "$T/x.adv" "$T/xm.adv" >/dev/null || fail "advise on the merge differs from the shards"
"$MS_BIN" peaks "$X" >"$T/x.peaks"
"$MS_BIN" peaks "$T/x-merged.db" >"$T/xm.peaks"
diff "$T/x.peaks" "$T/xm.peaks" >/dev/null || fail "peaks on the merge differs from the shards"
RC=0
"$MS_BIN" merge "$T/x-merged.db" "$X" 2>"$T/merge2.err" || RC=$?
assert_eq 1 "$RC" "merge into an existing file"
"$MS_BIN" advise "$X" "$M" >"$T/xm2.adv"
assert_eq 6 "$(post_field "$T/xm2.adv" RunsTotal)" "runs of two sweeps read as one"

note "an exec killed with its command keeps the command's samples"
K="$T/killed"
"$MS_BIN" exec --sweep "$K" --label kill=1 -- "$WL" --mib 64 --wait-file "$T/never" \
    --print started >"$T/k.out" 2>&1 &
ex=$!
track_pid "$ex"
wait_for 60 grep -q started "$T/k.out" || fail "the killed run did not start within 60 s"
# The 64 MiB are touched before the workload waits; its growth readings follow.
adv_peak() {
    "$MS_BIN" advise "$K" >"$T/k.adv" 2>/dev/null &&
        [ "$(post_field "$T/k.adv" LeftOutPeakRSS_LowerBound_MB | cut -d. -f1)" -ge 64 ]
}
wait_for 60 adv_peak || fail "the running run's samples did not reach 64 MiB: $(cat "$T/k.adv")"
child="$(pgrep -P "$ex")"
kill -KILL "$ex" "$child"
wait "$ex" 2>/dev/null || true
"$MS_BIN" advise "$K" >"$T/k2.adv"
assert_eq 1 "$(post_field "$T/k2.adv" RunsRunning)" "the killed run, before collect"
"$MS_BIN" collect "$K" 2>"$T/kc.err"
assert_contains "$T/kc.err" "1 run ended without recording it" "collect's line"
"$MS_BIN" peaks "$K" >"$T/k.peaks"
assert_contains "$T/k.peaks" "Status: lost" "the killed run's status after collect"
assert_between "$(peak_of "$K" "kill=1")" 64 $((64 + MIB_TOL)) "peak MiB of the killed run"
assert_eq 0 "$(find "$K/spool" -type f | wc -l)" "the killed run's pool, folded and removed"
assert_eq 1 "$(grep -c '^Post-run Observed Advisory$' "$K/memory_advisory.txt")" \
    "post-run section written by collect"
"$MS_BIN" collect "$K" 2>/dev/null
assert_eq 1 "$(grep -c '^Post-run Observed Advisory$' "$K/memory_advisory.txt")" \
    "post-run sections after a second collect"

note "runs on nodes of different sizes: one line per size"
N="$T/nodes"
for mb in 4000 4000 16000; do
    "$MS_BIN" exec --sweep "$N" --mem-total-mb "$mb" --label mb=$mb -- "$WL" --mib 40
done
"$MS_BIN" advise "$N" >"$T/n.adv"
assert_eq "2 (runs ran with different memory; the lines above are for MemTotal_MB 4000, each line below for one size)" \
    "$(post_field "$T/n.adv" NodeSizes)" "the node sizes line"
line4="$(post_field "$T/n.adv" NodeSize_MemTotal_MB=4000)"
line16="$(post_field "$T/n.adv" NodeSize_MemTotal_MB=16000)"
assert_contains <(echo "$line4") "runs 2, Reserve_MB 1024, Usable_MB 2976" "the 4000 MiB size"
assert_contains <(echo "$line16") "runs 1, Reserve_MB 1024, Usable_MB 14976" "the 16000 MiB size"
# Each size's conservative count is the seed's formula over its own runs and memory.
p95="$(echo "$line16" | sed -n 's/.*P95PeakRSS_MB \([0-9.]*\).*/\1/p')"
# (P95PeakRSS_MB is printed rounded to 0.1 MiB: the count may differ from it by one.)
want="$(awk -v p="$p95" 'BEGIN { printf "%d", 14976 / p * 0.85 }')"
got="$(echo "$line16" | sed -n 's/.*RecommendedMaxWorkers_Conservative \([0-9]*\).*/\1/p')"
assert_near "$got" "$want" 1 "the 16000 MiB size's conservative count against 14976 / $p95 * 0.85"

note "a database of schema 6 takes the statuses of schema 7 once upgraded"
"$MS_BIN" run -o "$T/v6" -- true >/dev/null 2>&1
V6="$(sweep_dir_of "$T/v6")/memsweep.db"
# The CHECK of schema 3 (no oom yet), under user_version 6.
sqlite3 "$V6" "PRAGMA writable_schema=ON;
    UPDATE sqlite_schema SET sql = replace(replace(sql, ',   ''cancelled'',''lost'')', ')'),
        '''oom'',', '') WHERE name = 'runs';
    PRAGMA user_version=6;"
assert_eq ok "$(sqlite3 "$V6" "PRAGMA integrity_check")" "integrity of the old CHECK made here"
sqlite3 "$V6" "UPDATE runs SET status = 'oom'" 2>/dev/null &&
    fail "the old database of this test accepts status oom before its upgrade"
"$MS_BIN" collect "$V6"
assert_eq "$(schema_version)" "$(sqlite3 "$V6" "PRAGMA user_version")" "schema version after collect"
assert_eq ok "$(sqlite3 "$V6" "PRAGMA integrity_check")" "integrity after the upgrade"
for st in oom cancelled lost; do
    sqlite3 "$V6" "UPDATE runs SET status = '$st'" || fail "status $st refused after the upgrade"
done

pass
