#!/usr/bin/env bash
# Builds the parser anchors outside the repository (default: ${TMPDIR:-/tmp}/scrapeline-parser-anchors).
#
#   sudo ./build.sh            # on a fresh Debian 12 (bookworm) amd64 machine, as root
#
# Environment:
#   BUILD_DIR    where everything is built (default ${TMPDIR:-/tmp}/scrapeline-parser-anchors)
#   SKIP_APT=1   skip the apt-get steps
#
# What it builds (nothing is written into the repository):
#   $BUILD_DIR/bin/anchors                   Go harness: VictoriaMetrics Rows.Unmarshal,
#                                            Prometheus textparse PromParser / OpenMetricsParser,
#                                            prometheus/common expfmt TextParser
#   $BUILD_DIR/bin/anchor-prometheus-parse   Rust harness: prometheus-parse crate
# Go toolchain: Debian golang-go (1.19); GOPATH mode, no module proxy. Rust: rustup stable
# (cargo on PATH), the crates registry for the crate pinned in rust-prometheus-parse/Cargo.lock.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD_DIR="${BUILD_DIR:-${TMPDIR:-/tmp}/scrapeline-parser-anchors}"
PROM_DEB_VERSION="2.42.0+ds-5+deb12u1"
mkdir -p "$BUILD_DIR"/{src,bin}

if [ "${SKIP_APT:-0}" != 1 ]; then
  # deb-src for `apt-get source prometheus`: the same mirrors as the machine's own deb sources
  if ! grep -rqs '^Types: deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "/etc/apt/sources.list.d/scrapeline-src-$(basename "$f")"
    done
    [ -f /etc/apt/sources.list ] && sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/scrapeline-src.list
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    golang-go dpkg-dev git xz-utils util-linux \
    golang-github-prometheus-common-dev golang-github-prometheus-client-model-dev \
    golang-github-cespare-xxhash-dev golang-github-golang-protobuf-1-5-dev \
    golang-protobuf-extensions-dev \
    golang-github-victoriametrics-metrics-dev golang-github-valyala-fastjson-dev \
    golang-github-valyala-histogram-dev golang-github-valyala-fastrand-dev >/dev/null
fi

# ---- Prometheus model/textparse from the Debian source package ------------------------------
cd "$BUILD_DIR/src"
if [ ! -d prometheus-2.42.0 ]; then
  apt-get source --download-only "prometheus=$PROM_DEB_VERSION" >/dev/null
  tar xf prometheus_2.42.0+ds.orig.tar.xz
fi
GP="$BUILD_DIR/gopath"
rm -rf "$GP"
PM="$GP/src/github.com/prometheus/prometheus/model"
mkdir -p "$PM"/{textparse,labels,exemplar,histogram,value}
P=prometheus-2.42.0/model
cp $P/textparse/{interface.go,promparse.go,promlex.l.go,openmetricsparse.go,openmetricslex.l.go} "$PM/textparse/"
cp $P/labels/labels.go "$PM/labels/"          # matcher.go/regexp.go (grafana/regexp) not needed
cp $P/exemplar/exemplar.go "$PM/exemplar/"
cp $(ls $P/histogram/*.go | grep -v _test.go) "$PM/histogram/"
cp $P/value/value.go "$PM/value/"
# protobufparse.go (gogo/protobuf) is left out; drop its one reference in textparse.New().
sed -i 's/return NewProtobufParser(b), nil/return nil, fmt.Errorf("protobuf parser not built")/' "$PM/textparse/interface.go"
grep -q '"fmt"' "$PM/textparse/interface.go" || sed -i 's/^import (/import (\n\t"fmt"/' "$PM/textparse/interface.go"

# ---- VictoriaMetrics lib/protoparser/prometheus (third_party/, v1.79.5) -------------------------
# Its dependencies (VictoriaMetrics/metrics, valyala/fastjson/fastfloat, histogram, fastrand) come
# from Debian's -dev packages under /usr/share/gocode.
VMP="$GP/src/github.com/VictoriaMetrics/VictoriaMetrics/lib/protoparser/prometheus"
mkdir -p "$VMP"
cp "$HERE/third_party/victoriametrics-v1.79.5/parser.go" "$VMP/parser.go"
# lib/logger replaced by a stub (see go/vmlogger/logger.go)
mkdir -p "$GP/src/github.com/VictoriaMetrics/VictoriaMetrics/lib/logger"
cp "$HERE/go/vmlogger/logger.go" "$GP/src/github.com/VictoriaMetrics/VictoriaMetrics/lib/logger/"

# Debian installs xxhash v2 without the /v2 suffix that GOPATH mode needs for its import path.
mkdir -p "$GP/src/github.com/cespare/xxhash"
ln -sfn /usr/share/gocode/src/github.com/cespare/xxhash "$GP/src/github.com/cespare/xxhash/v2"

# ---- the harness ----------------------------------------------------------------------------
mkdir -p "$GP/src/anchors"
cp "$HERE"/go/anchors/*.go "$GP/src/anchors/"
( cd "$GP/src/anchors" && GO111MODULE=off GOPATH="$GP:/usr/share/gocode" GOFLAGS= CGO_ENABLED=0 \
    go build -trimpath -o "$BUILD_DIR/bin/anchors" . )

# ---- Rust: prometheus-parse -----------------------------------------------------------------
( cd "$HERE/rust-prometheus-parse" && CARGO_TARGET_DIR="$BUILD_DIR/cargo-target" cargo build --release --locked -q )
cp "$BUILD_DIR/cargo-target/release/anchor-prometheus-parse" "$BUILD_DIR/bin/"

{
  echo "go: $(go version)"
  echo "rustc: $(rustc --version)"
  echo "victoriametrics: v1.79.5 (3282829e) parser.go from third_party/"
  echo "prometheus (textparse): Debian source $PROM_DEB_VERSION"
  echo "prometheus/common (expfmt): $(dpkg-query -W -f='${Version}' golang-github-prometheus-common-dev 2>/dev/null || echo '?')"
  echo "prometheus-parse: $(grep -A1 'name = "prometheus-parse"' "$HERE/rust-prometheus-parse/Cargo.lock" | sed -n 's/version = //p')"
} | tee "$BUILD_DIR/versions.txt"
echo "built into $BUILD_DIR/bin"
