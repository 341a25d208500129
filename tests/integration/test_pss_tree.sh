# Trees count memory once: a multiprocessing.Pool(2) started with fork shares its
# parent's 200 MiB with both workers, and summing their RSS counts those pages three
# times. Where a run has more than one live process, readings carry PSS (from
# smaps_rollup, at a bounded rate), and the run's figures count shared pages once: its
# peak is within 10% of the PSS of the three processes summed by an independent reader
# (the script itself, from /proc while the pool works), the advisory says how many runs
# used PSS, and `memsweep peaks` shows the RSS sum beside it. Every reading carries
# RssAnon, RssFile and RssShmem, which add up to its RSS; a run of a single process has
# no PSS reading.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
cat >"$T/pool.py" <<'PY'
import multiprocessing as mp, os, sys, time
data = bytearray(b'\1') * (200 << 20)   # the parent's pages, touched, then shared by fork

def work(i):
    s = 0
    for k in range(0, len(data), 4096 * 64):
        s += data[k]      # read only: the pages stay shared
    time.sleep(3)
    return s

def pss(pid):
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            if line.startswith('Pss:'):
                return int(line.split()[1])
    raise SystemExit('no Pss in smaps_rollup of %d' % pid)

if __name__ == '__main__':
    mp.set_start_method('fork')
    with mp.Pool(2) as p:
        r = p.map_async(work, range(2))
        time.sleep(1.5)
        pids = [os.getpid()] + [c.pid for c in mp.active_children()]
        with open(sys.argv[1], 'w') as f:
            f.write('%d %d\n' % (sum(pss(x) for x in pids), len(pids)))
        r.get()
PY

# check_tree DB PSSFILE WHAT
check_tree() {
    local ref n peak sum
    read -r ref n <"$2"
    assert_eq 3 "$n" "$3: processes the independent reader summed"
    assert_ge "$ref" $((200 * 1024)) "$3: PSS summed by the independent reader (KiB)"
    "$MS_BIN" peaks "$1" >"$T/peaks.out" 2>"$T/peaks.err" ||
        fail "$3: memsweep peaks failed: $(cat "$T/peaks.err")"
    grep -q 'PeakRSS_MB: .*(estimate: shared pages counted once, by PSS)' "$T/peaks.out" ||
        fail "$3: the peak does not say it counted shared pages once: $(grep PeakRSS_MB "$T/peaks.out")"
    peak="$(awk '$1 == "PeakRSS_MB:" { printf "%d", $2 * 1024; exit }' "$T/peaks.out")"
    sum="$(awk '$1 == "RSSSumPeak_MB:" { printf "%d", $2 * 1024; exit }' "$T/peaks.out")"
    assert_int "$peak" "$3: peak"
    assert_int "$sum" "$3: RSS sum"
    assert_le $((peak * 10)) $((ref * 11)) "$3: peak $peak KiB within 10% of the PSS sum $ref KiB"
    assert_ge $((peak * 10)) $((ref * 9)) "$3: peak $peak KiB within 10% of the PSS sum $ref KiB"
    # The shared 200 MiB counted in each of the three processes.
    assert_ge "$sum" $((ref * 2)) "$3: the RSS sum (KiB) against the PSS sum"
    assert_ge "$(sql "$1" "SELECT count(*) FROM samples WHERE pss_kb IS NOT NULL")" 3 \
        "$3: readings with PSS"
    assert_eq 0 "$(sql "$1" "SELECT count(*) FROM samples WHERE pss_kb > rss_kb")" \
        "$3: readings with PSS above RSS"
    check_breakdown "$1" "$3"
}

# check_breakdown DB WHAT: every reading has RssAnon, RssFile and RssShmem, and they add
# up to its RSS, as the kernel computes VmRSS.
check_breakdown() {
    assert_ge "$(sql "$1" "SELECT count(*) FROM samples")" 3 "$2: readings"
    assert_eq "" "$(sql "$1" "SELECT kind || ': ' || rss_kb || ' != ' || quote(rss_anon_kb) || ' + '
                           || quote(rss_file_kb) || ' + ' || quote(rss_shmem_kb) FROM samples
                           WHERE rss_anon_kb IS NULL OR rss_file_kb IS NULL OR rss_shmem_kb IS NULL
                           OR rss_anon_kb + rss_file_kb + rss_shmem_kb <> rss_kb LIMIT 5")" \
        "$2: readings whose breakdown is missing or does not add up"
}

note "under memsweep run (the collector reads PSS from outside)"
run_cmd run "$MS_BIN" run -o "$T/out" -- "$PY" "$T/pool.py" "$T/pss_run.txt"
assert_eq 0 "$RC" "memsweep run (stderr: $(head -c 2000 "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
check_tree "$S/memsweep.db" "$T/pss_run.txt" "memsweep run"
assert_eq 1 "$(post_field "$S/memory_advisory.txt" SharedPagesByPSS_Runs)" \
    "SharedPagesByPSS_Runs of the advisory"

note "standalone (each process's sampler thread reads its own PSS)"
run_shim alone "$T/alone.db" "$PY" "$T/pool.py" "$T/pss_alone.txt"
assert_eq 0 "$(cat "$T/alone.rc")" "exit status (stderr: $(cat "$T/alone.err"))"
check_tree "$T/alone.db" "$T/pss_alone.txt" standalone

note "a single process reads no PSS"
run_cmd one "$MS_BIN" run -o "$T/one" -- "$PY" -c 'import time; b = bytearray(b"\1") * (50 << 20); time.sleep(1.2)'
assert_eq 0 "$RC" "memsweep run (stderr: $(head -c 2000 "$T/one.err"))"
S="$(sweep_dir_of "$T/one")"
assert_ge "$(sql "$S/memsweep.db" "SELECT count(*) FROM samples WHERE kind = 'tick'")" 1 \
    "ticks of a process that lived over a second"
assert_eq 0 "$(sql "$S/memsweep.db" "SELECT count(*) FROM samples WHERE pss_kb IS NOT NULL")" \
    "readings with PSS of a run of one process"
assert_eq "" "$(post_field "$S/memory_advisory.txt" SharedPagesByPSS_Runs)" \
    "SharedPagesByPSS_Runs of a sweep that used no PSS"
check_breakdown "$S/memsweep.db" "one process"
pass
