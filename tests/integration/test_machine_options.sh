# --mem-total-mb and --reserve-mb: memsweep run takes them as `memsweep advise` does.
# --mem-total-mb stands for a whole machine of that size (the fixed reserve of 1024 MiB)
# and is named as the memory's source; --reserve-mb replaces the reserve of any rule and
# is named as the rule. Both sections, the database and the recommendations follow, and
# `memsweep advise` reads the sweep back with the reserve it recorded. advise's own
# options keep their meaning. (Bad values are in test_bad_input.sh.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HOST_MB="$(mem_total_mb)"
HOST_KB="$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)"

# sweep NAME OPTION...: memsweep run with the options, two runs of 8 and 16 MiB; sets
# ADV, DB and S (the sweep directory) and checks the recommendations against MemTotal_MB
# and Reserve_MB as given by EXPECT_TOTAL and EXPECT_RESERVE.
sweep() {
    local name="$1"
    shift
    run_cmd "$name" "$MS_BIN" run -o "$T/$name" "$@" -P mib=8,16 -- "$WL" --mib '{mib}'
    assert_eq 0 "$RC" "$name: exit status of memsweep run (stderr: $(cat "$T/$name.err"))"
    S="$(sweep_dir_of "$T/$name")"
    ADV="$S/memory_advisory.txt"
    DB="$S/memsweep.db"
    run_figures "$DB" >"$T/$name.fig"
    expected_advisory "$T/$name.fig" "$EXPECT_TOTAL" "$EXPECT_RESERVE" >"$T/$name.expected"
    check_advisory "$T/$name.expected" "$ADV" "$name: recommendations"
}

note "--mem-total-mb 3000: a machine of 3000 MiB"
EXPECT_TOTAL=3000 EXPECT_RESERVE=1024
sweep mem --mem-total-mb 3000
check_machine "$ADV" "--mem-total-mb 3000" "MemTotal_MB=3000" "Reserve_MB=1024" "Usable_MB=1976" \
    "MemSource=--mem-total-mb" "HostMemTotal_MB=$HOST_MB" "ReserveRule=$RULE_MACHINE"
check_machine "$T/mem.out" "stdout of --mem-total-mb 3000" "MemTotal_MB=3000" "MemSource=--mem-total-mb"
assert_eq "3072000|1024|--mem-total-mb|$HOST_KB" \
    "$(sql "$DB" "SELECT mem_total_kb, reserve_mb, mem_source, host_mem_total_kb FROM sweeps")" \
    "the sweeps row"
run_cmd mem_advise "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of advise on the --mem-total-mb sweep"
check_machine "$T/mem_advise.out" "advise of the --mem-total-mb sweep" "MemTotal_MB=3000" \
    "Reserve_MB=1024" "MemSource=--mem-total-mb" "ReserveRule=$RULE_MACHINE"
check_advisory "$T/mem.expected" "$T/mem_advise.out" "advise of the --mem-total-mb sweep"

note "--reserve-mb 100: the machine's memory, a reserve of 100 MiB"
EXPECT_TOTAL="$HOST_MB" EXPECT_RESERVE=100
sweep res --reserve-mb 100
check_machine "$ADV" "--reserve-mb 100" "MemTotal_MB=$HOST_MB" "Reserve_MB=100" \
    "Usable_MB=$((HOST_MB - 100))" "MemSource=/proc/meminfo" "ReserveRule=--reserve-mb"
assert_eq 100 "$(sql "$DB" "SELECT reserve_mb FROM sweeps")" "sweeps.reserve_mb"
# Read back later, the reserve is the recorded one, which no rule gives.
run_cmd res_advise "$MS_BIN" advise "$S"
assert_eq 0 "$RC" "exit status of advise on the --reserve-mb sweep"
check_machine "$T/res_advise.out" "advise of the --reserve-mb sweep" "Reserve_MB=100" \
    "ReserveRule=as the sweep recorded it"
check_advisory "$T/res.expected" "$T/res_advise.out" "advise of the --reserve-mb sweep"

note "both: --mem-total-mb 600 --reserve-mb 0"
EXPECT_TOTAL=600 EXPECT_RESERVE=0
sweep both --mem-total-mb 600 --reserve-mb 0
check_machine "$ADV" "--mem-total-mb 600 --reserve-mb 0" "MemTotal_MB=600" "Reserve_MB=0" \
    "Usable_MB=600" "MemSource=--mem-total-mb" "ReserveRule=--reserve-mb"

note "advise's options keep their meaning on any sweep"
run_cmd a1 "$MS_BIN" advise --mem-total-mb 65536 "$S"
assert_eq 0 "$RC" "exit status of advise --mem-total-mb 65536"
# Another machine: the fixed reserve, the option as the source, no MemTotal of the
# machine the sweep ran on (it is not the one advised for).
check_machine "$T/a1.out" "advise --mem-total-mb 65536" "MemTotal_MB=65536" "Reserve_MB=1024" \
    "Usable_MB=64512" "MemSource=--mem-total-mb" "HostMemTotal_MB=" "ReserveRule=$RULE_MACHINE"
expected_advisory "$T/both.fig" 65536 1024 >"$T/a1.expected"
check_advisory "$T/a1.expected" "$T/a1.out" "advise --mem-total-mb 65536"
run_cmd a2 "$MS_BIN" advise --reserve-mb 2048 --mem-total-mb 65536 "$S"
assert_eq 0 "$RC" "exit status of advise --reserve-mb 2048 --mem-total-mb 65536"
check_machine "$T/a2.out" "advise --reserve-mb 2048" "Reserve_MB=2048" "Usable_MB=63488" \
    "ReserveRule=--reserve-mb"
run_cmd a3 "$MS_BIN" advise --json --mem-total-mb 65536 "$S"
assert_eq 0 "$RC" "exit status of advise --json --mem-total-mb 65536"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
got = (d.get("MemTotal_MB"), d.get("Reserve_MB"), d.get("MemSource"), "HostMemTotal_MB" in d)
sys.exit(None if got == (65536, 1024, "--mem-total-mb", False) else "JSON: %r" % (got,))' "$T/a3.out" ||
    fail "advise --json --mem-total-mb 65536"

note "memsweep run --help names the options"
run_cmd help "$MS_BIN" run --help
assert_eq 0 "$RC" "exit status of memsweep run --help"
assert_contains "$T/help.out" "--mem-total-mb N" "memsweep run --help"
assert_contains "$T/help.out" "--reserve-mb N" "memsweep run --help"

pass
