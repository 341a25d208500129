# A real single-node SLURM cluster for the integration tests: munged, slurmctld and
# slurmd run as root, every file of theirs (key, sockets, state, spool, logs, pid files)
# inside a directory the caller made. Nothing under /etc/slurm, /etc/munge or /run/munge
# is read or written: the daemons get `-f DIR/slurm.conf`, the clients SLURM_CONF, and
# both the daemons and the clients reach our munged through AuthInfo=socket=....
#
# Usage, from a test sourced under `set -euo pipefail`:
#     . "$(dirname "$0")/lib_slurm.sh"
#     slurm_usable || skip "no SLURM here"      # prints the reason
#     mkdir "$T/slurm"
#     trap 'slurm_stop; _cleanup' EXIT          # or whatever the test's EXIT trap is
#     slurm_start "$T/slurm"                    # returns once the node is idle
#     id=$(sbatch --parsable ...)
#     slurm_wait_job "$id" 120
#     slurm_job_states "$id"                    # "TASK STATE EXITCODE" lines
#
# Tunables, read by slurm_start (all optional):
#   SLURM_LIB_REALMEM_MB   RealMemory of the node (default: `slurmd -C` less 5 %); a small
#                          figure makes memory, not cores, the resource that limits how
#                          many jobs run at once
#   SLURM_LIB_EXTRA_CONF   lines appended to slurm.conf; they must not repeat a key that
#                          the library writes
#   SLURM_LIB_DEADLINE_S   seconds to wait for the node to be idle (default 60)
# slurm_start sets SLURM_START_SECONDS to the time it took (about 1.5 s here).
#
# Besides the settings a test needs (cons_tres with CR_Core_Memory, DefMemPerCPU=512,
# jobacct_gather/linux polling every second with OverMemoryKill, jobcomp/filetxt,
# MinJobAge=86400 so that scontrol remembers finished jobs), three keep the waits short:
# KillWait=2 (SIGKILL 2 s after SIGTERM), AuthInfo cred_expire=10 (a requeued job is
# held for cred_expire, 120 s by default, before it may run again) and
# SchedulerParameters=sched_interval=5,bf_interval=5 (otherwise a requeued job that has
# become eligible waits up to a minute for the next scheduling pass).
#
# How a task ends, with SLURM 22.05.8 on Debian 12 (proctrack/linuxproc, task/none):
#   over its --mem   jobacct_gather sees the step's summed RSS above the limit within
#                    about a second and SIGKILLs every process of the batch step, the
#                    batch shell and any wrapper too (no SIGTERM first): JobState=FAILED,
#                    ExitCode=0:9, Reason=JobLaunchFailure; the job's stderr gets
#                    "slurmstepd-HOST: error: StepId=N.batch exceeded memory limit
#                    (RSS > LIMIT), being killed" and "error: Exceeded job memory limit".
#   time limit       found by slurmctld's periodic check, 60-90 s after the start with
#                    --time=1; SIGCONT+SIGTERM to every process of the step, SIGKILL
#                    after KillWait: JobState=TIMEOUT, ExitCode=0:15 (0:9 when the
#                    processes survive SIGTERM).
#   scancel          the same signals: JobState=CANCELLED, ExitCode 0:15, 143:0 or 0:9
#                    depending on how the batch shell died. `scancel -s SIG` without
#                    --full or --batch signals no process of a batch job without steps.
#   scontrol requeue the same signals; the task goes back to PENDING (Reason=BeginTime
#                    for cred_expire), keeps its job id and array task id, and runs again
#                    with SLURM_RESTART_COUNT=1 (unset on the first run).
# A task stays in the cgroups slurmd was started in (the caller's): task/none and
# proctrack/linuxproc make none for it.

# The daemons' pids (munged, slurmctld, slurmd), the directory, and whether a cluster of
# ours is up; slurm_stop clears them, so that it can run twice.
_SLURM_DIR=""
_SLURM_MUNGED_PID=""
_SLURM_CTLD_PID=""
_SLURM_SLURMD_PID=""

_slurm_msg() {
    echo "lib_slurm: $*" >&2
}

# slurm_usable: 0 when this machine can run the cluster (root, the daemons, the clients,
# munge and the plugins the configuration names); otherwise prints why and returns 1.
slurm_usable() {
    local c p plugdir=""
    if [ "$(id -u)" != 0 ]; then
        echo "lib_slurm: not root: slurmd must run as root" >&2
        return 1
    fi
    for c in slurmctld slurmd sbatch squeue sinfo scontrol scancel munged; do
        if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$c" ]; then
            echo "lib_slurm: $c is not installed (packages slurmctld, slurmd, slurm-client, munge)" >&2
            return 1
        fi
    done
    if ! command -v mungekey >/dev/null 2>&1 && ! command -v create-munge-key >/dev/null 2>&1 \
        && [ ! -x /usr/sbin/mungekey ] && [ ! -x /usr/sbin/create-munge-key ] && [ ! -r /dev/urandom ]; then
        echo "lib_slurm: no way to make a munge key (mungekey, create-munge-key, /dev/urandom)" >&2
        return 1
    fi
    if ! getent hosts "$(hostname -s)" >/dev/null 2>&1; then
        echo "lib_slurm: the short hostname '$(hostname -s)' does not resolve" >&2
        return 1
    fi
    for p in /usr/lib/x86_64-linux-gnu/slurm-wlm /usr/lib/aarch64-linux-gnu/slurm-wlm \
        /usr/lib64/slurm /usr/lib/slurm /usr/local/lib/slurm; do
        [ -e "$p/select_cons_tres.so" ] && { plugdir="$p"; break; }
    done
    if [ -n "$plugdir" ]; then
        for p in auth_munge cred_munge proctrack_linuxproc task_none select_cons_tres \
            jobacct_gather_linux jobcomp_filetxt accounting_storage_none; do
            if [ ! -e "$plugdir/$p.so" ]; then
                echo "lib_slurm: the SLURM plugin $p is missing from $plugdir" >&2
                return 1
            fi
        done
    fi
    return 0
}

# _slurm_port_free PORT: nothing listens on TCP PORT (ss when there is one, else a connect
# through bash's /dev/tcp, which fails when the port is free).
_slurm_port_free() {
    if command -v ss >/dev/null 2>&1; then
        [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ] || return 1
    fi
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _slurm_free_port [EXCEPT]: a free TCP port in 20000-59999 other than EXCEPT.
_slurm_free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [ "$p" = "${1:-}" ] && continue
        if _slurm_port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# _slurm_alive PID: the process exists and is not a zombie (daemons that forked away are
# reaped by init, not by us, and may linger as zombies for a moment).
_slurm_alive() {
    local st
    [ -n "$1" ] || return 1
    kill -0 "$1" 2>/dev/null || return 1
    st="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)"
    [ "$st" != Z ] && [ "$st" != X ]
}

# _slurm_kill PID NAME: SIGTERM, up to 15 s for it to exit, then SIGKILL and up to 5 s.
_slurm_kill() {
    local pid="$1" name="$2"
    _slurm_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        _slurm_alive "$pid" || break
        sleep 0.1
    done
    if _slurm_alive "$pid"; then
        _slurm_msg "$name (pid $pid) did not exit on SIGTERM within 15 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            _slurm_alive "$pid" || break
            sleep 0.1
        done
    fi
    if _slurm_alive "$pid"; then
        _slurm_msg "$name (pid $pid) is still running"
        return 1
    fi
    return 0
}

# _slurm_job_pids DIR: pids of what is left of the jobs of the cluster in DIR: the
# slurmstepd processes that hold a file under DIR open (they inherit slurmd's log file),
# and the processes whose environment names this cluster (SLURM_CONF=DIR/slurm.conf) and
# a job (SLURM_JOB_ID). Neither the caller's shell nor its other children are either.
_slurm_job_pids() {
    local dir="$1" d pid l env
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [ "$pid" = "$$" ] && continue
        if [ "$(cat "$d/comm" 2>/dev/null)" = slurmstepd ]; then
            for l in "$d"/fd/*; do
                case "$(readlink "$l" 2>/dev/null)" in
                "$dir"/*)
                    echo "$pid"
                    break
                    ;;
                esac
            done
            continue
        fi
        env="$(tr '\0' '\n' 2>/dev/null <"$d/environ")" || continue
        env=$'\n'"$env"$'\n'
        if [[ "$env" == *$'\n'"SLURM_CONF=$dir/slurm.conf"$'\n'* &&
            "$env" == *$'\n'SLURM_JOB_ID=* ]]; then
            echo "$pid"
        fi
    done
}

# _slurm_spawn OUT CMD...: starts CMD in the background with its output in OUT and prints
# its pid. It is started from a subshell that exits at once, so that the daemon is not a
# child of the caller's shell: a bare `wait` in the test does not wait for it, and it
# holds none of the caller's pipes open. It stays in the caller's process group.
_slurm_spawn() {
    local out="$1"
    shift
    ("$@" </dev/null >"$out" 2>&1 &
        echo "$!")
}

# _slurm_log_tails: the last lines of each daemon's log, for a failure message.
_slurm_log_tails() {
    local d f
    for d in munged slurmctld slurmd; do
        # The .out file (the daemon's stdout and stderr) repeats its log; it is shown
        # only when there is no log, e.g. when the daemon failed before opening it.
        f="$_SLURM_DIR/$d.log"
        [ -s "$f" ] || f="$_SLURM_DIR/$d.out"
        [ -s "$f" ] || continue
        echo "----- tail of $f -----"
        tail -n 20 "$f"
    done
}

_slurm_fail() {
    _slurm_msg "$*"
    _slurm_log_tails >&2
    return 1
}

# _slurm_key KEYFILE USER: a fresh munge key, mode 0400, owned by USER.
_slurm_key() {
    local key="$1" user="$2" mk
    rm -f -- "$key"
    mk="$(command -v mungekey || true)"
    [ -n "$mk" ] || { [ -x /usr/sbin/mungekey ] && mk=/usr/sbin/mungekey; }
    if [ -n "$mk" ]; then
        "$mk" --create --keyfile="$key" >/dev/null 2>&1 || rm -f -- "$key"
    fi
    if [ ! -s "$key" ]; then
        mk="$(command -v create-munge-key || true)"
        [ -n "$mk" ] || { [ -x /usr/sbin/create-munge-key ] && mk=/usr/sbin/create-munge-key; }
        # create-munge-key writes /etc/munge/munge.key unless told otherwise: use it only
        # when it takes -k (newer versions).
        if [ -n "$mk" ] && "$mk" -h 2>&1 | grep -q -- '-k'; then
            "$mk" -f -k "$key" >/dev/null 2>&1 || rm -f -- "$key"
        fi
    fi
    if [ ! -s "$key" ]; then
        dd if=/dev/urandom of="$key" bs=1024 count=1 status=none || return 1
    fi
    chown "$user" "$key" && chmod 0400 "$key"
}

# slurm_start DIR: starts munged, slurmctld and slurmd with everything in DIR (an empty
# directory; its mode becomes 0755, which munged requires of its socket's directory),
# exports SLURM_CONF, and returns once `sinfo` shows the node idle. On failure prints the
# tails of the daemons' logs, stops what it started and returns 1.
slurm_start() {
    local dir="$1" host node_line realmem mem ctld_port slurmd_port deadline_s start state
    local muser=root
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        _slurm_msg "slurm_start: '$dir' is not a directory"
        return 1
    fi
    if [ -n "$_SLURM_DIR" ]; then
        _slurm_msg "slurm_start: a cluster is already running in $_SLURM_DIR"
        return 1
    fi
    dir="$(cd "$dir" && pwd -P)"
    _SLURM_DIR="$dir"
    deadline_s="${SLURM_LIB_DEADLINE_S:-60}"
    start="$(date +%s.%N)"

    # munged checks that its socket's directory is searchable by all and writable by no
    # one but its owner; the key file must belong to the user munged runs as (root here)
    # and be readable by no one else.
    chmod 0755 "$dir" || return 1
    mkdir -p "$dir/state" "$dir/spool" || return 1
    _slurm_key "$dir/munge.key" "$muser" || { _slurm_fail "cannot create the munge key"; slurm_stop; return 1; }
    # -F: in the foreground, so that the pid is munged's own. Run as root, munged needs no
    # --force (checked with munge 0.5.15); it would need it for a directory it deems unsafe.
    _SLURM_MUNGED_PID="$(_slurm_spawn "$dir/munged.out" munged -F --socket="$dir/munge.socket" \
        --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
        --seed-file="$dir/munged.seed")"
    for _ in $(seq 100); do
        [ -S "$dir/munge.socket" ] && break
        _slurm_alive "$_SLURM_MUNGED_PID" || break
        sleep 0.1
    done
    if ! [ -S "$dir/munge.socket" ] || ! _slurm_alive "$_SLURM_MUNGED_PID"; then
        _slurm_fail "munged did not start"
        slurm_stop
        return 1
    fi

    host="$(hostname -s)"
    node_line="$(slurmd -C 2>/dev/null | head -n 1)"
    case "$node_line" in
    NodeName=*) ;;
    *)
        _slurm_fail "slurmd -C printed no NodeName line: '$node_line'"
        slurm_stop
        return 1
        ;;
    esac
    # A node that reports less memory than the configuration states is drained as
    # invalid: configure a little less than slurmd measures, or the caller's figure.
    mem="$(echo "$node_line" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')"
    realmem="${SLURM_LIB_REALMEM_MB:-$((${mem:-1000} * 95 / 100))}"
    if [ -n "$mem" ]; then
        node_line="${node_line/RealMemory=$mem/RealMemory=$realmem}"
    else
        node_line="$node_line RealMemory=$realmem"
    fi
    node_line="$node_line State=UNKNOWN"

    if ! ctld_port="$(_slurm_free_port)" || ! slurmd_port="$(_slurm_free_port "$ctld_port")"; then
        _slurm_fail "no free TCP port found"
        slurm_stop
        return 1
    fi

    cat >"$dir/slurm.conf" <<EOF
# Written by tests/integration/lib_slurm.sh: a one-node cluster inside $dir.
ClusterName=memsweeptest
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket,cred_expire=10
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
MinJobAge=86400
ReturnToService=2
KillWait=2
SchedulerParameters=sched_interval=5,bf_interval=5
$node_line
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    if [ -n "${SLURM_LIB_EXTRA_CONF:-}" ]; then
        printf '%s\n' "$SLURM_LIB_EXTRA_CONF" >>"$dir/slurm.conf"
    fi
    # An empty plugstack: the machine's /etc/slurm/plugstack.conf.d plugins stay out.
    : >"$dir/plugstack.conf"
    export SLURM_CONF="$dir/slurm.conf"

    # -D: in the foreground, so that the pid is the daemon's own.
    _SLURM_CTLD_PID="$(_slurm_spawn "$dir/slurmctld.out" slurmctld -D -f "$dir/slurm.conf")"
    _SLURM_SLURMD_PID="$(_slurm_spawn "$dir/slurmd.out" slurmd -D -f "$dir/slurm.conf")"

    # Poll until the node is idle: never a fixed sleep.
    state=""
    while :; do
        state="$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)"
        [ "$state" = idle ] && break
        if ! _slurm_alive "$_SLURM_CTLD_PID"; then
            _slurm_fail "slurmctld exited during start-up"
            slurm_stop
            return 1
        fi
        if ! _slurm_alive "$_SLURM_SLURMD_PID"; then
            _slurm_fail "slurmd exited during start-up"
            slurm_stop
            return 1
        fi
        if awk -v s="$start" -v d="$deadline_s" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s > d) }'; then
            _slurm_fail "the node was not idle within ${deadline_s} s (sinfo state: '${state}'; $(scontrol show node 2>&1 | grep -o 'Reason=.*' || true))"
            slurm_stop
            return 1
        fi
        sleep 0.2
    done
    # shellcheck disable=SC2034 # for the caller
    SLURM_START_SECONDS="$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')"
    return 0
}

# slurm_stop: cancels the jobs still in the queue, then stops slurmd, slurmctld and munged
# by their pids (SIGTERM, SIGKILL after 15 s) and any job process left holding a file
# in the directory. Safe to call twice, before slurm_start, and from an EXIT trap.
slurm_stop() {
    local dir="$_SLURM_DIR" ids p rc=0
    [ -n "$dir" ] || return 0
    # slurmd leaves running steps alone when it stops: cancel the jobs while slurmctld is
    # still up, and give them until their KillWait has passed to go.
    if _slurm_alive "$_SLURM_CTLD_PID"; then
        ids="$(squeue -h -o %A 2>/dev/null | sort -u || true)"
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null || true
            for _ in $(seq 100); do
                [ -z "$(squeue -h -o %A 2>/dev/null || true)" ] && break
                sleep 0.1
            done
        fi
    fi
    _slurm_kill "$_SLURM_SLURMD_PID" slurmd || rc=1
    _slurm_kill "$_SLURM_CTLD_PID" slurmctld || rc=1
    # What remains of a job: a slurmstepd, or a program of a job that escaped it.
    for p in $(_slurm_job_pids "$dir"); do
        [ "$p" = "$_SLURM_MUNGED_PID" ] && continue
        _slurm_msg "killing pid $p ($(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")), left over from a job"
        kill -KILL "$p" 2>/dev/null || true
        for _ in $(seq 50); do
            _slurm_alive "$p" || break
            sleep 0.1
        done
    done
    _slurm_kill "$_SLURM_MUNGED_PID" munged || rc=1
    _SLURM_SLURMD_PID=""
    _SLURM_CTLD_PID=""
    _SLURM_MUNGED_PID=""
    _SLURM_DIR=""
    if [ "${SLURM_CONF:-}" = "$dir/slurm.conf" ]; then
        unset SLURM_CONF
    fi
    return "$rc"
}

# slurm_wait_job JOBID [DEADLINE_S]: waits (default 120 s) until no task of job JOBID
# (an array's tasks included) is pending, running or completing. Returns 1, with the
# queue printed, when the deadline passes.
slurm_wait_job() {
    local id="$1" deadline="${2:-120}" end out
    end=$(($(date +%s) + deadline))
    while :; do
        # squeue -j lists an array's tasks too; once a job is no longer known at all
        # (MinJobAge passed), squeue fails: that is gone too.
        if ! out="$(squeue -h -j "$id" -o '%i %T' 2>&1)"; then
            case "$out" in
            *"Invalid job id"*) return 0 ;;
            esac
        elif [ -z "$out" ]; then
            return 0
        fi
        if [ "$(date +%s)" -ge "$end" ]; then
            _slurm_msg "job $id still queued after ${deadline} s:"
            echo "$out" >&2
            return 1
        fi
        sleep 0.2
    done
}

# slurm_job_states JOBID: one line per task of job JOBID, "TASK STATE EXITCODE", sorted by
# task; TASK is the array task id, or "-" for a job that is not an array.
#
# Source: `scontrol show job -o JOBID`, which slurmctld remembers for MinJobAge (86400 s
# here) after the job ended, and which gives each task's current record: a requeued task
# that ran again shows its last run. ExitCode is "status:signal" of the batch shell as
# slurmd reported it (e.g. 0:0, 3:0, 0:9 for SIGKILL, 0:15 for SIGTERM). Fails when
# slurmctld does not know the job. The jobcomp file is not used here: for CANCELLED and
# TIMEOUT it has ExitCode=0:0 whatever the shell's end (slurmctld writes the line before
# slurmd reports the status), and a requeue writes a line of its own (see
# slurm_jobcomp_states).
slurm_job_states() {
    local id="$1"
    scontrol show job -o "$id" 2>/dev/null | awk '
        {
            task = "-"; state = "?"; ec = "?"
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^ArrayTaskId=/) task = substr($i, 13)
                else if ($i ~ /^JobState=/) state = substr($i, 10)
                else if ($i ~ /^ExitCode=/) ec = substr($i, 10)
            }
            print task, state, ec
        }' | sort -n
}

# slurm_jobcomp_states JOBID: the same three fields from the jobcomp file (JobCompLoc),
# one line per ending of a task, in the order they ended. The file names a task by its
# own job id (JobId=) with ArrayJobId= and ArrayTaskId= beside it for an array's tasks
# (the task that runs last has JobId equal to ArrayJobId). A requeued run leaves a line
# with JobState=PENDING; ExitCode is 0:0 for CANCELLED and TIMEOUT (see above), and the
# real one for COMPLETED, FAILED (and over-memory kills: FAILED 0:9).
slurm_jobcomp_states() {
    local id="$1" f="${_SLURM_DIR:-}/jobcomp.log"
    [ -f "$f" ] || return 0
    awk -v id="$id" '
        {
            jid = ""; ajid = ""; task = "-"; state = "?"; ec = "?"
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^JobId=/) jid = substr($i, 7)
                else if ($i ~ /^ArrayJobId=/) ajid = substr($i, 12)
                else if ($i ~ /^ArrayTaskId=/) task = substr($i, 13)
                else if ($i ~ /^JobState=/) state = substr($i, 10)
                else if ($i ~ /^ExitCode=/) ec = substr($i, 10)
            }
            if (jid == id || ajid == id) print task, state, ec
        }' "$f"
}
