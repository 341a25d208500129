# R's parallel::mclapply under the shim: its forked workers must end as cleanly as they do
# without the shim, with exit status 0.
#
# How mclapply ends a worker: the worker sends its result, then a "leaving" message, and
# waits. The parent answers the message with SIGUSR1, on which the worker exits; once it
# has heard from every worker, the parent sends SIGTERM to each worker it has not yet
# reaped (mc.cleanup). For the last worker to leave, SIGUSR1 and SIGTERM are about half a
# millisecond apart: a worker whose exit takes longer than that (a shim writing its end
# record and waiting for its sampler on the way out) dies of the SIGTERM, and what it
# meant to record at its exit is lost.
#
# How each worker ended is observed without the shim's records and without tracing R:
# libms_waitlog.so (tests/workloads/ms_waitlog.c), preloaded beside the shim, logs the
# status that R's own waitpid returned for each child it reaped ("PID exited 0" or
# "PID killed 15"). strace -f would show it too, but ptrace stops a worker at every signal
# it receives, and that stop alone, at the SIGUSR1, often lets the SIGTERM win even
# without the shim. The R script prints the pids of the workers of each call.
#
# Half a millisecond is a race that R can lose without any shim: on a loaded machine the
# last worker is often not scheduled between the two signals (with 2 CPUs and a load
# average of 5, three calls in four lost it), and a slow shim's worker now and then wins
# it when the parent is the one kept waiting. So the test compares rather than asserting
# one run: R processes without and with the shim alternate, each making CALLS calls of
# mclapply(1:4, ..., mc.cores = 2); a call is clean when both its workers exited 0. Once
# at least DECIDE clean calls are in, the shim's share of them is judged: were the shim
# harmless, each clean call would be the shim's as likely as not (the alternation shares
# the machine's changing load between both), and MAX_SHIM_SHARE or fewer of DECIDE would
# happen by chance about once in 6,000 (binomial, 30 and 5).
#   - PASS when more than MAX_SHIM_SHARE of them ran under the shim (on a quiet machine
#     nearly every call is clean either way);
#   - FAIL otherwise: the shim delays its workers' exit past R's SIGTERM;
#   - SKIP when MAX_PAIRS pairs did not bring DECIDE clean calls: the machine was too busy
#     for workers to exit between R's two signals, with or without the shim, and the test
#     cannot tell the difference here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v Rscript >/dev/null 2>&1 || skip_missing r-base-core "R (Rscript) is not installed"
WAITLOG="$MS_BUILD_DIR/libms_waitlog.so"
[ -f "$WAITLOG" ] || fail "$WAITLOG is missing (build the tests/workloads targets)"

CALLS=5
DECIDE=30
MAX_SHIM_SHARE=5
MAX_PAIRS=60

cat >"$T/mc.R" <<'R'
calls <- as.integer(commandArgs(TRUE)[1])
for (k in seq_len(calls)) {
    r <- parallel::mclapply(1:4, function(i) {
        x <- numeric(1e6)
        c(Sys.getpid(), sum(x) + i)
    }, mc.cores = 2)
    stopifnot(identical(sapply(r, `[`, 2), as.numeric(1:4)))
    cat("call", k, sort(unique(sapply(r, `[`, 1))), "\n")
}
R

# attempt NAME ENV...: one R process making CALLS calls, with ENV (the shim, or nothing);
# prints how many of its calls were clean. Fails when R fails, prints other than
# expected, or does not reap a worker.
attempt() {
    local name="$1"
    shift
    run_cmd "$name" env MS_WAITLOG="$T/$name.wait" "$@" Rscript --vanilla "$T/mc.R" "$CALLS"
    assert_eq 0 "$RC" "exit status of R ($name; stderr: $(head -c 2000 "$T/$name.err"))"
    assert_eq "$CALLS" "$(grep -cE '^call [0-9]+ [0-9]+ [0-9]+ $' "$T/$name.out" || true)" \
        "calls with two workers printed by R ($name; stdout: $(head -c 2000 "$T/$name.out"))"
    awk -v what="$name" '
        NR == FNR { how[$1] = $2 " " $3; next }
        {
            for (i = 3; i <= 4; i++) {
                if (!($i in how)) { print "unreaped " $i; exit 1 }
                if (how[$i] != "exited 0") killed++
            }
            if (how[$3] == "exited 0" && how[$4] == "exited 0") clean++
        }
        END { print clean + 0, killed + 0 }' "$T/$name.wait" "$T/$name.out" >"$T/$name.sum" ||
        fail "$name: R never reaped a worker ($(cat "$T/$name.sum"); reaped: $(tr '\n' ';' <"$T/$name.wait"))"
    cat "$T/$name.sum"
}

note "the observer sees a child killed by SIGTERM"
MS_WAITLOG="$T/control.wait" LD_PRELOAD="$WAITLOG" sh -c 'sh -c "kill -TERM \$\$"; true' 2>/dev/null
assert_eq "killed 15" "$(cut -d' ' -f2- "$T/control.wait")" "status of a child that SIGTERM killed"

note "alternating R without and with the shim, $CALLS mclapply calls each"
plain_clean=0 shim_clean=0 plain_calls=0 shim_calls=0 plain_killed=0 shim_killed=0
for ((p = 1; p <= MAX_PAIRS && plain_clean + shim_clean < DECIDE; p++)); do
    read -r c k < <(attempt "plain$p" LD_PRELOAD="$WAITLOG")
    plain_clean=$((plain_clean + c)) plain_killed=$((plain_killed + k)) plain_calls=$((plain_calls + CALLS))
    read -r c k < <(attempt "shim$p" MEMSWEEP_DB="$T/m$p.db" LD_PRELOAD="$MS_SHIM:$WAITLOG")
    shim_clean=$((shim_clean + c)) shim_killed=$((shim_killed + k)) shim_calls=$((shim_calls + CALLS))
    note "pair $p: clean calls without the shim $plain_clean of $plain_calls ($plain_killed workers killed)," \
        "with the shim $shim_clean of $shim_calls ($shim_killed workers killed)"
done
[ $((plain_clean + shim_clean)) -ge "$DECIDE" ] ||
    skip "only $((plain_clean + shim_clean)) clean calls in $MAX_PAIRS pairs, with or without the shim: this machine is too busy for R's workers to exit between its SIGUSR1 and SIGTERM"
[ "$shim_clean" -gt "$MAX_SHIM_SHARE" ] ||
    fail "only $shim_clean of $((plain_clean + shim_clean)) clean calls of mclapply (both workers exited 0) ran under the shim, where a harmless shim would have had about half; under the shim $shim_killed of $((2 * shim_calls)) workers were killed by SIGTERM, without it $plain_killed of $((2 * plain_calls)): the shim delays the workers' exit past R's SIGTERM"

pass
