#!/usr/bin/env bash
# What `memsweep exec` costs a runner per run: N runs of /bin/true started one after
# another by a shell loop, bare, through `memsweep exec` (its shard built, published at
# the start and at the end, its pool created and folded), and through `memsweep run -j 1`
# for comparison; then `memsweep advise` reading the N shards of the exec sweep against
# advise on their merge. Rounds alternate; the median and the fastest of each are printed,
# with the cost per run. Every exec round is checked: N runs, all ok, each with its
# process; a failed check exits 1. The shards' bytes are counted too, since they land on
# the shared filesystem a batch system's nodes write to.
#
# Usage: bench/bench_exec.sh [N] [ROUNDS]     (defaults: 200 5)
source "$(dirname "$0")/lib.sh"
N=${1:-200}
ROUNDS=${2:-5}
work=$(mktemp -d "${MS_BENCH_DIR:-${TMPDIR:-/tmp}}/ms-bench-exec-XXXXXX")
trap 'rm -rf "$work"' EXIT
TRUE_BIN=/bin/true

bare=() execs=() runs=() adv=() advm=()
for r in $(seq "$ROUNDS"); do
  t0=$(now)
  for i in $(seq "$N"); do "$TRUE_BIN"; done
  t1=$(now)
  bare+=("$(calc "$t1 - $t0")")

  d="$work/exec-$r"
  t0=$(now)
  for i in $(seq "$N"); do
    "$MS_BIN" exec --sweep "$d" --preload "$MS_SHIM" --label i="$i" -- "$TRUE_BIN"
  done
  t1=$(now)
  execs+=("$(calc "$t1 - $t0")")
  "$MS_BIN" merge "$work/m-$r.db" "$d" 2>/dev/null
  bad=$(sqlite3 "$work/m-$r.db" "SELECT (SELECT count(*) FROM runs) <> $N
      OR (SELECT count(*) FROM runs WHERE status <> 'ok') > 0
      OR (SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM processes p
          WHERE p.run_id = r.run_id) <> 1) > 0")
  [ "$bad" = 0 ] || { echo "bench: $d: not every run is recorded" >&2; exit 1; }

  t0=$(now)
  "$MS_BIN" run -j 1 -o "$work/run-$r" --preload "$MS_SHIM" -P "i=1..$N" -- "$TRUE_BIN" \
    >/dev/null 2>&1
  t1=$(now)
  runs+=("$(calc "$t1 - $t0")")

  t0=$(now)
  "$MS_BIN" advise "$d" >/dev/null
  t1=$(now)
  adv+=("$(calc "$t1 - $t0")")
  t0=$(now)
  "$MS_BIN" advise "$work/m-$r.db" >/dev/null
  t1=$(now)
  advm+=("$(calc "$t1 - $t0")")
done

report() {
  local name=$1
  shift
  local med fast
  med=$(median "$@")
  fast=$(printf '%s\n' "$@" | sort -g | head -n 1)
  printf '%-34s median %8.3f s  fastest %8.3f s  per run %7.2f ms (median)\n' "$name" "$med" \
    "$fast" "$(calc "$med * 1000 / $N")"
}
echo "N=$N runs of $TRUE_BIN, $ROUNDS rounds, one after another"
report "bare shell loop" "${bare[@]}"
report "memsweep exec each" "${execs[@]}"
report "memsweep run -j 1" "${runs[@]}"
report "advise DIR ($N shards)" "${adv[@]}"
report "advise merged.db" "${advm[@]}"
shard_bytes=$(du -sb "$work/exec-1/shards" | cut -f1)
printf 'shards of one sweep: %d bytes, %d per run\n' "$shard_bytes" $((shard_bytes / N))
