#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent: does nothing when all are
# present; runs `apt-get update` once, first, when any package is missing.
set -euo pipefail

packages=(
  build-essential cmake make pkg-config
  libcaf-dev            # CAF 0.17.6: caf_core, caf_io, caf_openssl
  rapidjson-dev         # JSON codec
  librocksdb-dev        # storage
  libboost-test-dev     # Boost.Test
  libboost-dev          # Beast / Asio (header-only)
  libcurl4-openssl-dev  # webhook sinks
  libssl-dev            # caf_openssl links OpenSSL
  libtcmalloc-minimal4  # dispatchd's allocator (gperftools' tcmalloc; see apps/CMakeLists.txt)
  openssl               # the cluster tests make a CA and node certificates
  gnuplot-nox           # dispatch-bench draws its figures (SVG); optional at run time
  curl                  # the README's session against dispatchd
  wrk                   # HTTP load generator for the gateway figures
  clang-format          # make format-check (scripts/format-check.sh)
  clang                 # make fuzz: bookworm's clang 14 builds the libFuzzer targets of fuzz/
  libclang-rt-14-dev    # make fuzz: libFuzzer and the sanitizer runtimes of clang 14
  jq                    # bench/cluster-bench.sh reads dispatchd's JSON with it
  chromium              # the console's browser test (tests/console, driven by puppeteer-core)
)

# The SDK compatibility test runs the official ExH JavaScript SDK on node. A node from elsewhere
# (e.g. NodeSource, which bundles npm) is kept; otherwise Debian's nodejs and npm are installed.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
