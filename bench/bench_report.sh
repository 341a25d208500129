#!/usr/bin/env bash
# Size and first paint of `memsweep report` at scale: a generated sweep of RUNS runs
# (default 10,000) of PER_RUN samples each (default 60, and 1000 in a second round, where
# each process's samples are thinned), written as a report, then loaded ROUNDS times
# (default 5) in Debian's headless Chromium through tests/integration/cdp_page.py. Prints
# the file size, the time `memsweep report` took, and Chromium's first contentful paint
# and the time until the page had drawn everything (median and fastest). Never asserts
# on a time: the figures go to docs/performance.md.
# Usage: bench/bench_report.sh [RUNS] [ROUNDS]
source "$(dirname "$0")/lib.sh"
RUNS=${1:-10000}
ROUNDS=${2:-5}
CHROMIUM=${MS_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "bench: $CHROMIUM is missing (apt-get install chromium)" >&2; exit 1; }
work=$(mktemp -d /tmp/ms-bench-report-XXXXXX)
trap 'rm -rf "$work"' EXIT

for per_run in 60 1000; do
  "$MS_BUILD_DIR/gen_sweepdb" "$work/memsweep.db" "$RUNS" "$per_run"
  # Parameters, as a grid would have them, for the page's per-parameter views.
  sqlite3 "$work/memsweep.db" "UPDATE runs SET label = 'level=' || (seq % 9 + 1) || ' seed=' || (seq % 7)"
  samples=$(sqlite3 "$work/memsweep.db" "SELECT count(*) FROM samples")
  t0=$(now)
  "$MS_BIN" report -f -o "$work/report.html" "$work/memsweep.db"
  t1=$(now)
  bytes=$(stat -c %s "$work/report.html")
  printf 'report: %d runs, %d samples: %.1f MiB of HTML, written in %.2f s\n' "$RUNS" "$samples" \
    "$(calc "$bytes / 1048576")" "$(calc "$t1 - $t0")"
  fcp=() ready=()
  for ((r = 0; r < ROUNDS; r++)); do
    /usr/bin/python3 "$MS_SOURCE_DIR/tests/integration/cdp_page.py" --chromium "$CHROMIUM" \
      --html "$work/report.html" --wait-expr 'document.body.dataset.ready === "1"' \
      --eval 'JSON.stringify(window.msReport.stages)' \
      --timeout 600 >"$work/cdp.json" || { echo "bench: Chromium did not load the page" >&2; cat "$work/cdp.json" >&2; exit 1; }
    # Where the time went, in the last load: the end of each stage, ms from navigation.
    stages=$(/usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(" ".join("%s %.0f" % kv for kv in json.loads(c["eval"]["value"]).items()))' "$work/cdp.json")
    read -r f d errs < <(/usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); t=c["timings"]; print(t["first_contentful_paint_ms"], t["navigate_to_ready_ms"], len(c["exceptions"]) + len(c["console_errors"]) + len(c["log_errors"]))' "$work/cdp.json")
    [ "$errs" = 0 ] || { echo "bench: the page reported errors" >&2; cat "$work/cdp.json" >&2; exit 1; }
    fcp+=("$f") ready+=("$d")
  done
  printf '  Chromium, %d loads: first contentful paint median %s ms, fastest %s ms; all drawn median %s ms, fastest %s ms\n' \
    "$ROUNDS" "$(median "${fcp[@]}")" "$(printf '%s\n' "${fcp[@]}" | sort -g | head -1)" \
    "$(median "${ready[@]}")" "$(printf '%s\n' "${ready[@]}" | sort -g | head -1)"
  echo "  stages of the last load (ms from navigation to the end of each): $stages"
done
