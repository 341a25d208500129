# Processes that end without exit(): Python fork children ending with os._exit, and dash,
# which ends every shell with _exit. Each still gets its end sample and exit record, so
# the children are measured (they live less than one interval) and a wrapper shell ends
# when it really ends, not at its last tick.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
    skip_missing python3 "python3 is not installed"
fi
PY="$(python3 -c 'import sys; print(sys.executable)')"
cat >"$T/fk.py" <<'PY'
import os, time
pids = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        b = bytearray(64 << 20)
        for i in range(0, len(b), 4096):
            b[i] = 1
        time.sleep(0.2)
        os._exit(0)
    pids.append(pid)
for p in pids:
    os.waitpid(p, 0)
print("done")
PY

note "Python fork children ending with os._exit"
run_cmd fk env MEMSWEEP_DB="$T/fk.db" LD_PRELOAD="$MS_SHIM" "$PY" "$T/fk.py"
assert_eq 0 "$RC" "exit status of the forking Python program"
assert_eq done "$(cat "$T/fk.out")" "its output"
assert_empty "$T/fk.err" "its stderr"
parent="$(sql "$T/fk.db" "SELECT pid FROM processes WHERE proc_id = (SELECT min(proc_id) FROM processes)")"
assert_eq 2 "$(sql "$T/fk.db" "SELECT count(*) FROM processes WHERE ppid = $parent")" \
    "child processes recorded"
assert_eq 2 "$(sql "$T/fk.db" "SELECT count(*) FROM processes WHERE ppid = $parent
                                AND ended_ns IS NOT NULL")" "children with an exit record"
sql "$T/fk.db" "SELECT max(s.rss_kb) / 1024 FROM samples s JOIN processes p USING (proc_id)
                WHERE p.ppid = $parent AND s.kind = 'end' GROUP BY p.proc_id" >"$T/child_end"
while read -r mib; do
    assert_ge "$mib" 64 "RSS of a child's end sample (MiB)"
done <"$T/child_end"

note "a wrapper shell (dash ends with _exit) records its exit"
printf '%s\n' "$WL --mib 40 --hold-ms 700; true" >"$T/cmds"
run_cmd wrapped "$MS_BIN" run -j 1 -o "$T/out" --commands "$T/cmds"
assert_eq 0 "$RC" "exit status of the wrapped run (stderr: $(cat "$T/wrapped.err"))"
DB="$(sweep_dir_of "$T/out")/memsweep.db"
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NULL")" \
    "processes of the wrapped run without an exit record"
run_figures "$DB" >"$T/fig.txt"
check_run_mib "$(cat "$T/fig.txt")" 40 40 "the wrapped run"

pass
