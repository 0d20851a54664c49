# shellcheck shell=bash
# Sourced by the checks that run under node (tests/sdk, tests/console): what they need before
# they can start, each missing piece a skip (exit 77, ctest: skipped) rather than a failure.

# need_node WHAT: node and npm are on PATH; WHAT names the check in the message.
need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP: node and npm are needed for $1 (scripts/install-deps.sh installs them)"
    exit 77
  fi
}

# npm_install_once WORK_DIR PACKAGE SPEC: installs SPEC (e.g. puppeteer-core@24) into
# WORK_DIR/node_modules unless PACKAGE is there already; skips when the registry cannot be reached.
npm_install_once() {
  local work_dir=$1 package=$2 spec=$3
  mkdir -p "$work_dir"
  [ -d "$work_dir/node_modules/$package" ] && return 0
  echo "installing $package into $work_dir"
  if ! timeout 300 npm install --prefix "$work_dir" --no-audit --no-fund --loglevel=error \
      "$spec" >"$work_dir/npm.log" 2>&1; then
    cat "$work_dir/npm.log"
    echo "SKIP: the npm registry could not be reached to install $package"
    exit 77
  fi
}
