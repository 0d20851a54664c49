#!/usr/bin/env bash
# Drives the console (/console/) of a real dispatchd in headless Chromium: console_check.js starts
# the node and a loopback webhook, then uses the page as an operator would. Screenshots go to
# WORK_DIR/screenshots. Exit 77 (ctest: skipped) when Chromium, node or npm are missing, or the npm
# registry cannot be reached to install puppeteer-core.
# Usage: run_console_check.sh DISPATCHD SOURCE_DIR WORK_DIR
set -euo pipefail
dispatchd=$1
source_dir=$2
work_dir=$3
# shellcheck source=tests/node_check.sh
source "$source_dir/tests/node_check.sh"

chromium=""
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null; then chromium=$(command -v "$candidate"); break; fi
done
if [ -z "$chromium" ]; then
  echo "SKIP: Chromium is needed for the console check (scripts/install-deps.sh installs Debian's chromium)"
  exit 77
fi
need_node "the console check"
# puppeteer-core drives the system Chromium (it downloads no browser); 24 is the last major that
# runs on bookworm's node 18 and NodeSource's 20.
npm_install_once "$work_dir" puppeteer-core puppeteer-core@24
rm -rf "$work_dir/screenshots"
mkdir -p "$work_dir/screenshots"
NODE_PATH=$work_dir/node_modules exec node "$source_dir/tests/console/console_check.js" \
  "$dispatchd" "$chromium" "$work_dir/screenshots"
