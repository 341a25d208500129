# Peaks attributed to the allocations that made them: the large blocks live at a run's
# highest reading, each with its allocated and its resident size (mincore) and its
# allocation stack, symbolized offline with file and line, static functions of a program
# built without -rdynamic included. A rebuilt or deleted program is reported, not
# mis-symbolized; MEMSWEEP_BLOCK_MB chooses the size; `exec`'s self-sampled shards and
# their merge keep the blocks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BL="$MS_BUILD_DIR/ms_blocks"
need_exe "$BL"
need_exe "$SPIKE"

# JSON of one run's LargeBlocks from `memsweep peaks --json PATH`.
blocks_json() {
    "$MS_BIN" peaks --json "$1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["runs"][0]["LargeBlocks"]))'
}

note "ms_blocks under memsweep run: 96 MiB allocated with 24 touched, 40 MiB mapped and written"
"$MS_BIN" run -j 1 -o "$T/out" -- "$BL" --big-mib 96 --touch-mib 24 --mid-mib 40 \
    >/dev/null 2>"$T/run.err" || fail "the sweep failed: $(cat "$T/run.err")"
S="$(sweep_dir_of "$T/out")"
"$MS_BIN" peaks "$S" >"$T/peaks.txt"
sed -n '/LargeBlocks/,/^$/p' "$T/peaks.txt" | sed 's/^/     /'
blocks_json "$S" >"$T/b.json"
python3 - "$T/b.json" "$S/memsweep.db" <<'PY' || fail "LargeBlocks of ms_blocks: $(cat "$T/b.json")"
import json, sqlite3, sys
b = json.load(open(sys.argv[1]))
MiB = 1 << 20
assert b is not None and len(b["Blocks"]) == 2, b
big, mid = b["Blocks"]
# Largest first; allocated sizes as the allocator gave them (a chunk header, a page).
assert 96 * MiB <= big["Bytes"] <= 96 * MiB + 8192, big
assert 40 * MiB <= mid["Bytes"] <= 40 * MiB + 8192, mid
# Resident: what was written, to the page.
# The big block's pages from its first byte (16 bytes into a page) to 24 MiB on; the
# mapping's pages exactly.
assert big["Resident_kB"] == 24 * 1024 + 4, big
assert mid["Resident_kB"] == 40 * 1024, mid
assert b["Kind"] == "release", b
assert abs(b["Resident_MB"] - 64.0) <= 0.1, b
# The reading holds the blocks and the program's own few MiB.
assert 64 <= b["Reading_RSS_MB"] <= 64 + 16, b
assert 100 * 64 / b["Reading_RSS_MB"] - 0.2 <= b["ShareOfReading_Pct"] <= 100.0, b
# Frames: recorded with the module's build-id; static functions named by the symbolizer.
assert any(s.startswith("reserve_table at ms_blocks.c:") for s in big["Symbolized"]), big
assert any(s.startswith("fill_buffer at ms_blocks.c:") for s in mid["Symbolized"]), mid
assert all(" ? " in f or f.endswith(" ?") or "ms_blocks+" not in f
           for f in big["Frames"] if "reserve_table" not in f), big["Frames"]
assert not any("reserve_table" in f for f in big["Frames"]), "dladdr cannot name a static function"
db = sqlite3.connect(sys.argv[2])
assert db.execute("SELECT count(*) FROM blocks").fetchone()[0] == 2
assert db.execute("SELECT count(*) FROM block_readings").fetchone()[0] == 1
PY
# The line the symbolizer gives is the line of the call in the source.
line="$(grep -o 'reserve_table at ms_blocks.c:[0-9]*' "$T/peaks.txt" | head -1 | cut -d: -f2)"
src_line="$(grep -n 'char \*const p = malloc(bytes);' "$MS_SOURCE_DIR/tests/workloads/ms_blocks.c" | cut -d: -f1)"
assert_eq "$src_line" "$line" "line of reserve_table's malloc"
# The build-id in the frames is the program's own.
want_id="$(readelf -n "$BL" | awk '/Build ID/ { print $3 }')"
assert_ne "" "$want_id" "build-id of ms_blocks from readelf"
got_id="$(sqlite3 "$S/memsweep.db" "SELECT frames FROM stacks" | grep -m1 '/ms_blocks+' | awk '{ print $NF }')"
assert_eq "$want_id" "$got_id" "build-id recorded with ms_blocks' frames"

note "realloc, mremap and a partial munmap: sizes, resident parts and stacks follow the blocks"
"$MS_BIN" run -j 1 -o "$T/outg" -- "$BL" --grow --remap --trim >/dev/null 2>"$T/rung.err" ||
    fail "the sweep with --grow --remap --trim failed: $(cat "$T/rung.err")"
blocks_json "$(sweep_dir_of "$T/outg")" >"$T/bg.json"
python3 - "$T/bg.json" <<'PY' || fail "LargeBlocks with --grow --remap --trim: $(cat "$T/bg.json")"
import json, sys
b = json.load(open(sys.argv[1]))
MiB = 1 << 20
got = {x["Symbolized"][0].split(" at ")[0]: x for x in b["Blocks"]}
assert sorted(got) == ["fill_buffer", "grow_table", "remap_buffer", "reserve_table"], sorted(got)
# realloc'd from 20 to 80 MiB: one block of 80 MiB, allocated by the realloc in grow_table.
assert 80 * MiB <= got["grow_table"]["Bytes"] <= 80 * MiB + 8192, got["grow_table"]
assert got["grow_table"]["Resident_kB"] >= 80 * 1024, got["grow_table"]
# mremap'd from 24 to 48 MiB.
assert got["remap_buffer"]["Bytes"] == 48 * MiB and got["remap_buffer"]["Resident_kB"] == 48 * 1024, got
# The upper half of the 40 MiB mapping unmapped: what is left of it is resident.
assert got["fill_buffer"]["Bytes"] == 40 * MiB and got["fill_buffer"]["Resident_kB"] == 20 * 1024, got
PY

note "a rebuilt program is reported, not mis-symbolized; a deleted one is missing"
mkdir -p "$T/bin"
cp "$BL" "$T/bin/ms_blocks"
"$MS_BIN" run -j 1 -o "$T/out2" -- "$T/bin/ms_blocks" --mid-mib 24 >/dev/null 2>"$T/run2.err" ||
    fail "the second sweep failed: $(cat "$T/run2.err")"
S2="$(sweep_dir_of "$T/out2")"
"$MS_BIN" peaks --full "$S2" >"$T/p2.txt"
grep -q 'fill_buffer at ms_blocks.c:' "$T/p2.txt" || fail "the copy is not symbolized: $(cat "$T/p2.txt")"
cp "$SPIKE" "$T/bin/ms_blocks" # another program at the same path
"$MS_BIN" peaks --full "$S2" >"$T/p3.txt"
grep -q 'fill_buffer' "$T/p3.txt" && fail "a rebuilt program was symbolized: $(cat "$T/p3.txt")"
grep -qE '^      ms_blocks\+0x[0-9a-f]+ \? \(rebuilt\)$' "$T/p3.txt" ||
    fail "the rebuilt program's frames are not marked: $(cat "$T/p3.txt")"
rm "$T/bin/ms_blocks"
"$MS_BIN" peaks --full "$S2" >"$T/p4.txt"
grep -qE '^      ms_blocks\+0x[0-9a-f]+ \? \(missing\)$' "$T/p4.txt" ||
    fail "the deleted program's frames are not marked: $(cat "$T/p4.txt")"

note "MEMSWEEP_BLOCK_MB: 64 lists the 96 MiB block alone, 0 none"
MEMSWEEP_BLOCK_MB=64 "$MS_BIN" run -j 1 -o "$T/out3" -- "$BL" >/dev/null 2>"$T/run3.err" ||
    fail "the sweep with MEMSWEEP_BLOCK_MB=64 failed: $(cat "$T/run3.err")"
S3="$(sweep_dir_of "$T/out3")"
assert_eq 1 "$(sql "$S3/memsweep.db" "SELECT count(*) FROM blocks")" "blocks listed with MEMSWEEP_BLOCK_MB=64"
MEMSWEEP_BLOCK_MB=0 "$MS_BIN" run -j 1 -o "$T/out4" -- "$BL" >/dev/null 2>"$T/run4.err" ||
    fail "the sweep with MEMSWEEP_BLOCK_MB=0 failed: $(cat "$T/run4.err")"
S4="$(sweep_dir_of "$T/out4")"
assert_eq 0 "$(sql "$S4/memsweep.db" "SELECT count(*) FROM blocks")" "blocks listed with MEMSWEEP_BLOCK_MB=0"
grep -q 'LargeBlocks: none recorded' <("$MS_BIN" peaks "$S4") || fail "peaks without blocks"

note "ms_spike: the block is the spike allocated in ms_spike_allocate, not the free after it"
"$MS_BIN" run -j 1 -o "$T/out5" -- "$SPIKE" --count 2 --mib 64 >/dev/null 2>"$T/run5.err" ||
    fail "the ms_spike sweep failed: $(cat "$T/run5.err")"
S5="$(sweep_dir_of "$T/out5")"
blocks_json "$S5" >"$T/b5.json"
python3 - "$T/b5.json" <<'PY' || fail "LargeBlocks of ms_spike: $(cat "$T/b5.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b is not None and len(b["Blocks"]) == 1, b
x = b["Blocks"][0]
assert 64 << 20 <= x["Bytes"] <= (64 << 20) + 8192 and x["Resident_kB"] >= 64 * 1024, x
assert x["Symbolized"][0].startswith("ms_spike_allocate at ms_spike.c:"), x
assert b["ShareOfPeak_Pct"] >= 80, b
PY

note "memsweep exec: a self-sampled shard keeps its blocks, and so does the merge"
"$MS_BIN" exec --sweep "$T/shards" -- "$BL" --mid-mib 32 >/dev/null 2>"$T/exec.err" ||
    fail "exec failed: $(cat "$T/exec.err")"
blocks_json "$T/shards" >"$T/b6.json"
python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); assert b and len(b["Blocks"]) == 2 and any(s.startswith("fill_buffer at") for s in b["Blocks"][1]["Symbolized"]), b' "$T/b6.json" ||
    fail "LargeBlocks of the shard: $(cat "$T/b6.json")"
"$MS_BIN" merge "$T/merged.db" "$T/shards" "$S" >/dev/null 2>"$T/merge.err" || fail "merge: $(cat "$T/merge.err")"
assert_eq 4 "$(sql "$T/merged.db" "SELECT count(*) FROM blocks")" "blocks of the two runs in their merge"
assert_eq 0 "$(sql "$T/merged.db" "SELECT count(*) FROM blocks b WHERE stack_id IS NULL OR NOT EXISTS (SELECT 1 FROM stacks s WHERE s.stack_id = b.stack_id)")" \
    "blocks of the merge without their stack"
assert_eq "$(sql "$S/memsweep.db" "SELECT group_concat(frames, '|') FROM (SELECT s.frames FROM blocks b JOIN stacks s USING (stack_id) ORDER BY b.bytes)")" \
    "$(sql "$T/merged.db" "SELECT group_concat(frames, '|') FROM (SELECT s.frames FROM blocks b JOIN stacks s USING (stack_id) JOIN processes p USING (proc_id) JOIN runs r USING (run_id) WHERE r.uid LIKE '%/%' ORDER BY b.bytes)")" \
    "the stacks of the sweep's blocks, before and after the merge"

pass
