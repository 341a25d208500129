# memsweep run in a SLURM job's environment: SLURM_MEM_PER_NODE, or SLURM_MEM_PER_CPU
# times SLURM_CPUS_ON_NODE, is the memory the sweep may use when it is less than the
# machine's, with the limit's reserve; SLURM_CPUS_ON_NODE caps the default -j and the
# CPUs the advisory states. Values that are not numbers are left out with a warning, and
# the sweep goes on. The variables are set in memsweep's environment here, as slurmd sets
# them in a job's; a test under a real slurmd, whose cgroup also limits the job, belongs
# to a later issue.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HOST_MB="$(mem_total_mb)"
[ "$HOST_MB" -gt 1100 ] || skip "this machine has $HOST_MB MiB: the SLURM figures here would not be narrower"

# sweep NAME VAR=VALUE... -- ARGS...: memsweep run with the variables in its environment,
# three runs of 8 MiB that hold 300 ms each; sets ADV and DB of its sweep.
sweep() {
    local name="$1" vars=()
    shift
    while [ "$1" != "--" ]; do
        vars+=("$1")
        shift
    done
    shift
    run_cmd "$name" env "${vars[@]}" "$MS_BIN" run -o "$T/$name" "$@" -P n=1..3 -- \
        "$WL" --mib 8 --hold-ms 300
    assert_eq 0 "$RC" "$name: exit status of memsweep run (stderr: $(cat "$T/$name.err"))"
    ADV="$(sweep_dir_of "$T/$name")/memory_advisory.txt"
    DB="$(sweep_dir_of "$T/$name")/memsweep.db"
}

# warnings_of NAME: the warnings memsweep printed in sweep NAME.
warnings_of() {
    grep '^memsweep: warning: ' "$T/$1.err" || true
}

# overlapping DB: how many pairs of runs were running at the same time.
overlapping() {
    sql "$1" "SELECT count(*) FROM runs a JOIN runs b ON a.seq < b.seq
              WHERE a.started_ns < b.finished_ns AND b.started_ns < a.finished_ns"
}

note "SLURM_MEM_PER_NODE=600: 600 MiB, the limit's reserve"
sweep node SLURM_MEM_PER_NODE=600 --
check_machine "$ADV" "SLURM_MEM_PER_NODE" "MemTotal_MB=600" "Reserve_MB=64" "Usable_MB=536" \
    "MemSource=SLURM_MEM_PER_NODE=600" "HostMemTotal_MB=$HOST_MB" "ReserveRule=$RULE_LIMIT" \
    "CPUs=$(affinity_cpus)"
assert_eq "" "$(warnings_of node)" "warnings of the sweep"
run_figures "$DB" >"$T/fig.txt"
expected_advisory "$T/fig.txt" 600 64 >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "SLURM_MEM_PER_NODE"
assert_eq "614400|SLURM_MEM_PER_NODE=600|64" \
    "$(sql "$DB" "SELECT mem_total_kb, mem_source, reserve_mb FROM sweeps")" "the sweeps row"

note "SLURM_MEM_PER_CPU=150 x SLURM_CPUS_ON_NODE=1: 150 MiB, one CPU, -j 1"
sweep cpu SLURM_MEM_PER_CPU=150 SLURM_CPUS_ON_NODE=1 --
check_machine "$ADV" "SLURM_MEM_PER_CPU" "MemTotal_MB=150" "Reserve_MB=64" "Usable_MB=86" \
    "MemSource=SLURM_MEM_PER_CPU=150 x SLURM_CPUS_ON_NODE=1" "HostMemTotal_MB=$HOST_MB" \
    "ReserveRule=$RULE_LIMIT" "CPUs=1"
assert_eq "1|1" "$(sql "$DB" "SELECT jobs, cpus FROM sweeps")" "sweeps: jobs and cpus"
assert_eq 0 "$(overlapping "$DB")" "runs that overlapped with the default -j"
run_figures "$DB" >"$T/fig.txt"
expected_advisory "$T/fig.txt" 150 64 >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "SLURM_MEM_PER_CPU"

note "SLURM_MEM_PER_CPU=2048 x SLURM_CPUS_ON_NODE=2: 4096 MiB when the machine has more"
if [ "$HOST_MB" -gt 4096 ]; then
    sweep cpu2 SLURM_MEM_PER_CPU=2048 SLURM_CPUS_ON_NODE=2 --
    check_machine "$ADV" "SLURM_MEM_PER_CPU x 2" "MemTotal_MB=4096" "Reserve_MB=410" \
        "Usable_MB=3686" "MemSource=SLURM_MEM_PER_CPU=2048 x SLURM_CPUS_ON_NODE=2"
else
    skip_part "this machine has $HOST_MB MiB, not more than 4096"
fi

note "a figure above the machine's MemTotal is no narrower: the machine stands"
sweep big SLURM_MEM_PER_NODE=$((HOST_MB + 1000)) --
check_machine "$ADV" "SLURM_MEM_PER_NODE above MemTotal" "MemTotal_MB=$HOST_MB" "Reserve_MB=1024" \
    "MemSource=/proc/meminfo" "ReserveRule=$RULE_MACHINE"

note "SLURM_CPUS_ON_NODE alone caps the CPUs, not the memory"
sweep cpus_only SLURM_CPUS_ON_NODE=1 --
check_machine "$ADV" "SLURM_CPUS_ON_NODE" "MemSource=/proc/meminfo" "CPUs=1"
assert_eq 1 "$(sql "$DB" "SELECT jobs FROM sweeps")" "sweeps.jobs with SLURM_CPUS_ON_NODE=1"
assert_eq 0 "$(overlapping "$DB")" "runs that overlapped with SLURM_CPUS_ON_NODE=1"
# An explicit -j is the user's: it stays, and the CPUs are still stated.
sweep cpus_j SLURM_CPUS_ON_NODE=1 -- -j 3
assert_eq "3|1" "$(sql "$DB" "SELECT jobs, cpus FROM sweeps")" "sweeps: jobs and cpus with -j 3"

note "--mem-total-mb and --reserve-mb win over SLURM's figures"
sweep opt SLURM_MEM_PER_NODE=600 -- --mem-total-mb 3000 --reserve-mb 100
check_machine "$ADV" "options over SLURM" "MemTotal_MB=3000" "Reserve_MB=100" "Usable_MB=2900" \
    "MemSource=--mem-total-mb" "ReserveRule=--reserve-mb"

note "values that are not numbers: a warning, and the next source"
sweep garbled SLURM_MEM_PER_NODE=600M SLURM_CPUS_ON_NODE=one --
check_machine "$ADV" "garbled SLURM variables" "MemTotal_MB=$HOST_MB" "MemSource=/proc/meminfo" \
    "CPUs=$(affinity_cpus)"
assert_contains "$T/garbled.err" "memsweep: warning: SLURM_MEM_PER_NODE='600M' is not a plausible whole number of MB; not used" \
    "warning about SLURM_MEM_PER_NODE"
assert_contains "$T/garbled.err" "memsweep: warning: SLURM_CPUS_ON_NODE='one' is not a positive whole number; not used" \
    "warning about SLURM_CPUS_ON_NODE"
sweep per_cpu_alone SLURM_MEM_PER_CPU=100 --
check_machine "$ADV" "SLURM_MEM_PER_CPU without SLURM_CPUS_ON_NODE" "MemSource=/proc/meminfo"
assert_contains "$T/per_cpu_alone.err" "SLURM_MEM_PER_CPU is set but SLURM_CPUS_ON_NODE is not; not used" \
    "warning about SLURM_MEM_PER_CPU alone"
# SLURM's --mem=0 asks for all the memory of the node: no limit, and nothing to warn about.
sweep zero SLURM_MEM_PER_NODE=0 --
check_machine "$ADV" "SLURM_MEM_PER_NODE=0" "MemSource=/proc/meminfo" "Reserve_MB=1024"
assert_eq "" "$(warnings_of zero)" "warnings with SLURM_MEM_PER_NODE=0"

pass
