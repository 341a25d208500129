# Many tiny runs: 500 runs of /bin/true, four at a time. Every run is recorded: one runs
# row per sequence number, all ok with exit code 0, each with the process row of its
# /bin/true, its start and end samples and its two logs, and the launcher reports each
# run once. (The time this takes is measured by bench/bench_tiny_runs.sh.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=500
TRUE_BIN="$(command -v true)"
[ -x /bin/true ] && TRUE_BIN=/bin/true

run_cmd run "$MS_BIN" run -j 4 -o "$T/out" -P "i=1..$N" -- "$TRUE_BIN"
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(head -c 2000 "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"

note "runs"
assert_eq "$N|$N|1|$N|$N" \
    "$(sql "$DB" "SELECT count(*), count(DISTINCT seq), min(seq), max(seq),
                         count(DISTINCT run_id) FROM runs")" \
    "runs rows: count, distinct seq, min and max seq, distinct ids"
assert_eq "$N" "$(sql "$DB" "SELECT planned_runs FROM sweeps")" "planned_runs"
assert_eq "" "$(sql "$DB" "SELECT seq || ' ' || status || ' ' || COALESCE(exit_code, 'NULL')
                          FROM runs WHERE status <> 'ok' OR exit_code IS NOT 0
                             OR started_ns IS NULL OR finished_ns < started_ns
                             OR uninstrumented IS NOT NULL LIMIT 5")" \
    "runs not ok, without a sane start and finish, or marked not measured"
assert_eq "" "$(sql "$DB" "SELECT 'run ' || seq || ' label ' || label FROM runs
                          WHERE label IS NOT 'i=' || seq LIMIT 5")" "labels"

note "processes and samples"
assert_eq "" "$(sql "$DB" "SELECT 'run ' || r.seq || ': ' || count(p.proc_id) || ' process rows'
                          FROM runs r LEFT JOIN processes p USING (run_id)
                          GROUP BY r.run_id HAVING count(p.proc_id) <> 1 LIMIT 5")" \
    "runs without exactly one process row"
assert_eq "$N" "$(sql "$DB" "SELECT count(*) FROM processes p JOIN runs r USING (run_id)
                            WHERE p.ended_ns IS NOT NULL AND p.started_ns >= r.started_ns
                              AND p.ended_ns <= r.finished_ns")" \
    "process rows that ended within their run"
assert_eq "$N|$N" "$(sql "$DB" "SELECT count(DISTINCT CASE kind WHEN 'start' THEN proc_id END),
                                       count(DISTINCT CASE kind WHEN 'end' THEN proc_id END)
                                FROM samples")" "processes with a start and an end sample"

note "logs and progress lines"
assert_eq "$N" "$(log_files "$S" out | wc -l)" "logs/*.out files"
assert_eq "$N" "$(log_files "$S" err | wc -l)" "logs/*.err files"
assert_eq "" "$(find "$S/logs" -type f -size +0 | head -n 5)" "logs with content"
# Without a terminal, each finished run prints one line, and nothing else is printed.
assert_eq "$N" "$(grep -c -E "^memsweep: run [0-9]+/$N ok \(exit 0\) " "$T/run.err")" \
    "progress lines"
assert_eq "$N" "$(wc -l <"$T/run.err")" "lines on stderr"
assert_eq "$N" "$(sed -E 's|^memsweep: run ([0-9]+)/.*|\1|' "$T/run.err" | sort -un | wc -l)" \
    "distinct runs in the progress lines"

note "the advisory counts every run"
assert_eq "$N" "$(post_field "$S/memory_advisory.txt" RunsTotal)" "RunsTotal"
assert_eq "$N" "$(post_field "$S/memory_advisory.txt" RunsIncluded)" "RunsIncluded"

pass
