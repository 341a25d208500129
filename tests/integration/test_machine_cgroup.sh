# memsweep run inside a memory cgroup: the advice is for the cgroup's limit, not for the
# machine. A cgroup with a limit of 600 MiB (cgroup v2's memory.max, or v1's
# memory.limit_in_bytes where v2 has no memory controller) and a child of it without a
# limit of its own; memsweep runs in the child, so the limit it finds is its parent's.
# Both sections of the advisory, the database and `memsweep advise` must say MemTotal_MB
# 600 from that cgroup, the limit's reserve (64 MiB), 536 usable, the machine's MemTotal
# beside it, and recommendations computed from those 536 MiB; --reserve-mb and
# --mem-total-mb still override there. Skipped, with the reason, where no memory cgroup
# can be created (not root, a read-only or delegated-away hierarchy).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LIMIT_MIB=600
RESERVE_MIB=64 # a tenth of 600, raised to the rule's floor of 64
HOST_MB="$(mem_total_mb)"
[ "$HOST_MB" -gt $((LIMIT_MIB + 100)) ] ||
    skip "this machine has $HOST_MB MiB: a $LIMIT_MIB MiB limit would not be narrower"

# The group with its limit (lib.sh), and a child of it without one.
make_memory_cgroup "$LIMIT_MIB"
mkdir "$CG/inner" 2>/dev/null || skip "cannot create a child cgroup in $CG"
note "cgroup v$CG_VERSION at $CG, $CG_FILE $LIMIT_MIB MiB; memsweep runs in $CG/inner"
SOURCE="cgroup $CG_FILE $CG"

# in_cgroup NAME CMD...: run_cmd of CMD moved into $CG/inner first: a shell writes its
# own pid to cgroup.procs and becomes CMD, so that memsweep and its workers run there.
in_cgroup() {
    local name="$1"
    shift
    run_cmd "$name" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG/inner" "$@"
}

note "a sweep under the limit"
in_cgroup run "$MS_BIN" run -j 2 -o "$T/out" -P mib=24,40 -- "$WL" --mib '{mib}' --hold-ms 200
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
# The specification's lines first, unchanged in their order.
assert_eq "Pre-run Memory Advisory
MemTotal_MB: $LIMIT_MIB
Reserve_MB: $RESERVE_MIB
Usable_MB: $((LIMIT_MIB - RESERVE_MIB))
SafetyFactor: 0.85" "$(sed -n 1,5p "$ADV")" "the specification's pre-run lines"
MACHINE=("MemTotal_MB=$LIMIT_MIB" "Reserve_MB=$RESERVE_MIB" "Usable_MB=$((LIMIT_MIB - RESERVE_MIB))"
         "MemSource=$SOURCE" "HostMemTotal_MB=$HOST_MB" "ReserveRule=$RULE_LIMIT")
check_machine "$ADV" "memory_advisory.txt" "${MACHINE[@]}"
check_machine "$T/run.out" "stdout of memsweep run" "${MACHINE[@]}"
assert_eq "$((LIMIT_MIB * 1024))|$RESERVE_MIB|$SOURCE|$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)" \
    "$(sql "$DB" "SELECT mem_total_kb, reserve_mb, mem_source, host_mem_total_kb FROM sweeps")" \
    "sweeps: mem_total_kb, reserve_mb, mem_source, host_mem_total_kb"

# The recommendations divide the 536 usable MiB, recomputed here from the database.
run_figures "$DB" >"$T/fig.txt"
assert_eq 2 "$(wc -l <"$T/fig.txt")" "runs in the figures"
expected_advisory "$T/fig.txt" "$LIMIT_MIB" "$RESERVE_MIB" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"
# With the machine's MemTotal they would be far larger: the check above can tell.
expected_advisory "$T/fig.txt" "$HOST_MB" >"$T/expected_host.txt"
assert_ne "$(grep Conservative "$T/expected.txt")" "$(grep Conservative "$T/expected_host.txt")" \
    "the recommendation for the limit against the one for the machine"

note "memsweep advise reads the same machine back"
run_cmd advise "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of memsweep advise (stderr: $(cat "$T/advise.err"))"
check_machine "$T/advise.out" "memsweep advise" "${MACHINE[@]}"
check_advisory "$T/expected.txt" "$T/advise.out" "memsweep advise"
run_cmd advise_json "$MS_BIN" advise --json "$S"
assert_eq 0 "$RC" "exit status of memsweep advise --json"
python3 - "$T/advise_json.out" "$LIMIT_MIB" "$RESERVE_MIB" "$SOURCE" "$HOST_MB" "$RULE_LIMIT" \
    <<'PY' || fail "the machine's fields of advise --json"
import json, sys
d = json.load(open(sys.argv[1]))
want = {"MemTotal_MB": int(sys.argv[2]), "Reserve_MB": int(sys.argv[3]),
        "Usable_MB": int(sys.argv[2]) - int(sys.argv[3]), "MemSource": sys.argv[4],
        "HostMemTotal_MB": int(sys.argv[5]), "ReserveRule": sys.argv[6]}
bad = ["%s: expected %r, got %r" % (k, v, d.get(k)) for k, v in want.items() if d.get(k) != v]
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY

note "--reserve-mb and --mem-total-mb override the limit's figures"
in_cgroup res "$MS_BIN" run --reserve-mb 0 -o "$T/res" -- "$WL" --mib 8
assert_eq 0 "$RC" "exit status of memsweep run --reserve-mb 0 (stderr: $(cat "$T/res.err"))"
check_machine "$(sweep_dir_of "$T/res")/memory_advisory.txt" "--reserve-mb 0 in the cgroup" \
    "MemTotal_MB=$LIMIT_MIB" "Reserve_MB=0" "Usable_MB=$LIMIT_MIB" "MemSource=$SOURCE" \
    "ReserveRule=--reserve-mb"
in_cgroup mem "$MS_BIN" run --mem-total-mb 2048 -o "$T/mem" -- "$WL" --mib 8
assert_eq 0 "$RC" "exit status of memsweep run --mem-total-mb 2048 (stderr: $(cat "$T/mem.err"))"
check_machine "$(sweep_dir_of "$T/mem")/memory_advisory.txt" "--mem-total-mb 2048 in the cgroup" \
    "MemTotal_MB=2048" "Reserve_MB=1024" "Usable_MB=1024" "MemSource=--mem-total-mb" \
    "HostMemTotal_MB=$HOST_MB" "ReserveRule=$RULE_MACHINE"

note "outside the cgroup the same sweep is advised for the machine"
run_cmd host "$MS_BIN" run -o "$T/host" -- "$WL" --mib 8
assert_eq 0 "$RC" "exit status of memsweep run outside the cgroup (stderr: $(cat "$T/host.err"))"
assert_ne "$SOURCE" "$(post_field "$(sweep_dir_of "$T/host")/memory_advisory.txt" MemSource)" \
    "MemSource outside the cgroup"

pass
