#!/usr/bin/env bash
# What the shim costs a process in memory, by the kernel's own figure (ru_maxrss through
# /usr/bin/time): `sleep 1` with and without it, and a process that writes thousands of
# samples, whose footprint must not grow with them (only the current chunk and the first
# page of the first are ever mapped). The bounds asserted are generous; the figures are
# printed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_spool.sh"

[ -x /usr/bin/time ] || skip_missing time "no /usr/bin/time"
SLEEP="$(command -v sleep)"
maxrss() {
    /usr/bin/time -f %M -o "$T/time.out" "$@" >/dev/null 2>&1 || fail "$*: failed"
    tail -n 1 "$T/time.out"
}
plain=() shim=() long=()
for i in 1 2 3; do
    plain+=("$(maxrss env -u LD_PRELOAD "$SLEEP" 1)")
    shim+=("$(maxrss env MEMSWEEP_DB="$T/a$i.db" LD_PRELOAD="$MS_SHIM" "$SLEEP" 1)")
    long+=("$(maxrss env MEMSWEEP_DB="$T/b$i.db" MEMSWEEP_INTERVAL_MS=1 LD_PRELOAD="$MS_SHIM" \
        "$SLEEP" 3)")
done
min() { printf '%s\n' "$@" | sort -n | head -n 1; }
p="$(min "${plain[@]}")" s="$(min "${shim[@]}")" l="$(min "${long[@]}")"
note "max RSS (KiB, least of 3): sleep 1 without the shim $p, with it $s (+$((s - p))); sleep 3 sampling every 1 ms $l"
pool="$(pool_in "$T/b1.db.spool")" || fail "no pool of the long run"
dump_pool "$pool" "$T/d"
ticks="$(count_in "$T/d" ' kind=tick ')"
note "the long run wrote $ticks ticks in $(val "$(grep '^proc ' "$T/d")" chunks) chunks"
[ "$ticks" -ge 500 ] || fail "the long run wrote only $ticks ticks"
[ $((s - p)) -lt 1024 ] || fail "the shim costs $((s - p)) KiB, 1 MiB or more"
[ $((l - s)) -lt 256 ] || fail "$ticks samples made the footprint grow by $((l - s)) KiB"
pass
