#!/usr/bin/env bash
# A program measured alone whose sampler thread cannot be started (the user's process
# limit is used up: RLIMIT_NPROC 1, so no thread can be created) runs and exits as it
# would without the shim, and its image says why it has no ticks: a NOTE, written into
# its first chunk, which is mapped for it at that moment (the start writes the chunk with
# pwrite and maps nothing), and its end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

[ "$(id -u)" -eq 0 ] || skip "running a program as another user with a process limit needs root"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
command -v prlimit >/dev/null || skip "no prlimit (util-linux)"
uid=65534
mkdir "$T/u"
chown "$uid" "$T/u"
chmod 0700 "$T/u"
chmod 0755 "$T"
SLEEP="$(command -v sleep)"
as_user=(prlimit --nproc=1 setpriv --reuid="$uid" --regid="$uid" --clear-groups)

run_ref plain "${as_user[@]}" "$SLEEP" 0.01
assert_eq 0 "$RC" "exit status without the shim"
run_cmd shim "${as_user[@]}" env MEMSWEEP_DB="$T/u/m.db" LD_PRELOAD="$MS_SHIM" "$SLEEP" 0.01
assert_eq 0 "$RC" "exit status under the shim (139 would be a crash)"
assert_empty "$T/shim.err" "stderr under the shim"
pool="$(pool_in "$T/u/m.db.spool")" || fail "no pool in $T/u/m.db.spool"
dump_pool "$pool" "$T/d"
assert_eq 1 "$(count_in "$T/d" '^proc ')" "processes"
line="$(grep '^proc ' "$T/d")"
assert_eq 2 "$(val "$line" end_state)" "end_state (2: the end is written)"
assert_contains "$T/d" "could not start the sampler thread" "the note says why there are no ticks"
assert_eq 0 "$(count_in "$T/d" ' kind=tick ')" "ticks"
pass
