# A chunk's blocks are allocated whatever the pool file's size says. A process that claims
# a later chunk first extends the file past the chunks claimed before it, which stay holes
# until their own processes allocate them; a process that took the size for proof of
# blocks would map a hole, and its first record there, on a full filesystem, would raise
# SIGBUS in the program (exit status 135). Here the pool's chunk 2 is allocated by another
# process (fallocate(1)) before chunk 1 is claimed, and the filesystem is then filled: the
# process that claims chunk 1 must exit with its own status and be counted as lost.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_spool.sh"

command -v fallocate >/dev/null || skip "fallocate(1) is not installed"
mount_tiny_tmpfs

SP="$T/tiny/sp"
note "a first process makes the pool and takes its chunk 0"
run_cmd first env MEMSWEEP_DB="$T/m.db" MEMSWEEP_SPOOL_DIR="$SP" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 1 --print hello --exit 7
assert_eq 7 "$RC" "exit status of the first process"
pool="$(pool_in "$SP")" || fail "no pool in $SP: $(ls -la "$SP")"
dump_pool "$pool" "$T/d0"
assert_eq 1 "$(val "$(head -n 1 "$T/d0")" next_chunk)" "chunks claimed by the first process"

note "chunk 2 gets its blocks before chunk 1 is claimed; then the filesystem is filled"
chunk=$(val "$(head -n 1 "$T/d0")" chunk_bytes)
header=4096 # MS_SPOOL_HEADER_BYTES
assert_int "$chunk" "chunk_bytes of the pool"
fallocate -o $((header + 2 * chunk)) -l "$chunk" "$pool"
assert_eq $((header + 3 * chunk)) "$(stat -c %s "$pool")" "pool size past the hole of chunk 1"
dd if=/dev/zero of="$T/tiny/fill" bs=4k 2>/dev/null || true
[ "$(df --output=avail -k "$T/tiny" | tail -n 1 | tr -d ' ')" -eq 0 ] ||
    fail "the filesystem still has room: $(df -k "$T/tiny" | tail -n 1)"

note "the process that claims chunk 1, a hole on a full filesystem"
run_ref plain "$WL" --mib 1 --print hello --exit 7
run_cmd hole env MEMSWEEP_SPOOL="$pool" MEMSWEEP_INTERVAL_MS=1 LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 1 --print hello --exit 7
assert_eq 7 "$RC" "exit status of the process whose chunk was a hole (135 is SIGBUS)"
cmp -s "$T/plain.out" "$T/hole.out" || fail "stdout differs from the run without the shim"
assert_empty "$T/hole.err" "stderr of the process whose chunk was a hole"
dump_pool "$pool" "$T/d1"
assert_eq 1 "$(val "$(head -n 1 "$T/d1")" lost_processes)" "processes counted as without a chunk"
assert_eq 1 "$(count_in "$T/d1" '^proc ')" "processes in the pool"

pass
