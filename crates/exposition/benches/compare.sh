#!/usr/bin/env bash
# Same-session, same-protocol comparison of this crate's parser with the parser anchors in
# benches/anchors/ (VictoriaMetrics 1.79.5, Prometheus 2.42 PromParser / OpenMetricsParser,
# prometheus-parse 0.2.5). Build those first: `sudo benches/anchors/build.sh`.
#
#   crates/exposition/benches/compare.sh [RUNS] [MIN_SECONDS]
#   BEFORE=/path/to/older/throughput crates/exposition/benches/compare.sh 3 1   # adds its rows
#
# The last column is the row's cpu MB/s divided by VictoriaMetrics' on the same payload in the
# same run (VictoriaMetrics runs first for each payload).
# Every process is pinned to CPU $CPU (default 0), Go with GOMAXPROCS=1. Each cell is the median
# of RUNS runs, each parsing the whole file back to back for at least MIN seconds (the anchors'
# protocol). "MB/s" is wall-clock; "cpu MB/s" divides it by the share of the CPU the process
# actually got ((user+sys)/wall from /usr/bin/time), the same correction for every parser, so
# ratios stay fair on a machine that other jobs are loading.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
RUNS="${1:-5}"; MIN="${2:-1}"; CPU="${CPU:-0}"
# The corpus: captured payloads from testdata/, the synthetic ones generated into a temp folder.
PAYLOADS="${TMPDIR:-/tmp}/scrapeline-compare-payloads"
mkdir -p "$PAYLOADS"
cp "$ROOT"/testdata/payloads/*.prom "$PAYLOADS"/
python3 "$ROOT/testdata/payloads/generate.py" --out "$PAYLOADS" >/dev/null
A="${BUILD_DIR:-${TMPDIR:-/tmp}/scrapeline-parser-anchors}/bin"
export GOMAXPROCS=1
# The profile every benchmark figure uses (fat LTO, one codegen unit; see Cargo.toml).
( cd "$ROOT" && cargo build -q --profile dist -p scrapeline-exposition --example throughput )
T="${CARGO_TARGET_DIR:-$ROOT/target}/dist/examples/throughput"

# run LABEL CMD...: prints a table row; sets LAST_CPU to its cpu MB/s
VM_CPU=""
run() {
  local label="$1"; shift
  local out tm
  tm=$(mktemp)
  out=$(/usr/bin/time -o "$tm" -f "%e %U %S" taskset -c "$CPU" "$@" 2>/dev/null | tail -1 | tr ' ' '\t')
  read -r wall user sys < "$tm"; rm -f "$tm"
  local mb sps
  mb=$(sed -n 's/.*[[:space:]]mb_s=\([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  sps=$(sed -n 's/.*[[:space:]]samples_s=\([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  local row
  row=$(python3 - "$label" "$f" "${mb:-0}" "$wall" "$user" "$sys" "${sps:-0}" "${VM_CPU:-}" <<'PY'
import sys
label, f, mb, wall, user, sys_, sps, vm = sys.argv[1:]
share = (float(user) + float(sys_)) / float(wall)
cpu = float(mb) / share
ratio = f"{cpu / float(vm):.2f}x" if vm else "-"
print(f"| {label:<24} | {f:<20} | {float(mb):9.0f} | {cpu:9.0f} | {float(sps)/share/1e6:8.2f} M | {share:4.2f} | {ratio:>6} |")
PY
)
  echo "$row"
  LAST_CPU=$(awk -F'|' '{gsub(/ /,"",$5); print $5}' <<<"$row")
}

echo "| parser | payload | MB/s (wall) | cpu MB/s | samples/s (cpu) | cpu share | ÷ VM |"
echo "|---|---|---:|---:|---:|---:|---:|"
for f in node_exporter.prom prometheus.prom cadvisor.prom synthetic-large.prom utf8-names.prom synthetic-large.om; do
  p="$PAYLOADS/$f"
  VM_CPU=""
  if [ "$f" != utf8-names.prom ]; then
    run "VictoriaMetrics 1.79.5" "$A/anchors" -parser vm -runs "$RUNS" -min "${MIN}s" "$p"
    VM_CPU="$LAST_CPU"
  fi
  run "scrapeline iterate" "$T" "$p" iterate "$RUNS" "$MIN"
  run "scrapeline labels" "$T" "$p" labels "$RUNS" "$MIN"
  if [ -n "${BEFORE:-}" ]; then
    run "before iterate" "$BEFORE" "$p" iterate "$RUNS" "$MIN"
    run "before labels" "$BEFORE" "$p" labels "$RUNS" "$MIN"
  fi
  case "$f" in
    utf8-names.prom) ;;
    *.om) run "Prom OpenMetricsParser" "$A/anchors" -parser openmetrics -runs "$RUNS" -min "${MIN}s" "$p" ;;
    *)    run "Prom 2.42 PromParser" "$A/anchors" -parser prom -runs "$RUNS" -min "${MIN}s" "$p" ;;
  esac
  [ "$f" = utf8-names.prom ] || run "prometheus-parse 0.2.5" "$A/anchor-prometheus-parse" "$p" "$RUNS" "$MIN"
done
