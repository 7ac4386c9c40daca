#!/usr/bin/env bash
# Same-session, same-protocol comparison of this crate's parser with the parser anchors in
# benches/anchors/ (VictoriaMetrics 1.79.5, Prometheus 2.42 PromParser / OpenMetricsParser,
# prometheus-parse 0.2.5). Build those first: `sudo benches/anchors/build.sh`.
#
#   crates/exposition/benches/compare.sh [RUNS] [MIN_SECONDS]
#
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

# run LABEL CMD...: prints "label file MB/s cpu-MB/s samples/s"
run() {
  local label="$1"; shift
  local out tm
  tm=$(mktemp)
  out=$(/usr/bin/time -o "$tm" -f "%e %U %S" taskset -c "$CPU" "$@" 2>/dev/null | tail -1 | tr ' ' '\t')
  read -r wall user sys < "$tm"; rm -f "$tm"
  local mb sps
  mb=$(sed -n 's/.*[[:space:]]mb_s=\([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  sps=$(sed -n 's/.*[[:space:]]samples_s=\([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  python3 - "$label" "$f" "${mb:-0}" "$wall" "$user" "$sys" "${sps:-0}" <<'PY'
import sys
label, f, mb, wall, user, sys_, sps = sys.argv[1:]
share = (float(user) + float(sys_)) / float(wall)
print(f"| {label:<24} | {f:<20} | {float(mb):9.0f} | {float(mb)/share:9.0f} | {float(sps)/share/1e6:8.2f} M | {share:4.2f} |")
PY
}

echo "| parser | payload | MB/s (wall) | cpu MB/s | samples/s (cpu) | cpu share |"
echo "|---|---|---:|---:|---:|---:|"
for f in node_exporter.prom prometheus.prom cadvisor.prom synthetic-large.prom utf8-names.prom synthetic-large.om; do
  p="$PAYLOADS/$f"
  run "scrapeline iterate" "$T" "$p" iterate "$RUNS" "$MIN"
  run "scrapeline labels" "$T" "$p" labels "$RUNS" "$MIN"
  case "$f" in
    utf8-names.prom) ;;
    *.om) run "VictoriaMetrics 1.79.5" "$A/anchors" -parser vm -runs "$RUNS" -min "${MIN}s" "$p"
          run "Prom OpenMetricsParser" "$A/anchors" -parser openmetrics -runs "$RUNS" -min "${MIN}s" "$p" ;;
    *)    run "VictoriaMetrics 1.79.5" "$A/anchors" -parser vm -runs "$RUNS" -min "${MIN}s" "$p"
          run "Prom 2.42 PromParser" "$A/anchors" -parser prom -runs "$RUNS" -min "${MIN}s" "$p" ;;
  esac
  [ "$f" = utf8-names.prom ] || run "prometheus-parse 0.2.5" "$A/anchor-prometheus-parse" "$p" "$RUNS" "$MIN"
done
