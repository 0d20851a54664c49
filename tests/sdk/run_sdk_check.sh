#!/usr/bin/env bash
# Runs sdk_check.js (the official ExH JavaScript SDK, unchanged) against a real dispatchd on a free
# port. Exit 77 (ctest: skipped) when node/npm are missing or the npm registry cannot be reached.
# Usage: run_sdk_check.sh DISPATCHD SOURCE_DIR WORK_DIR
set -euo pipefail
dispatchd=$1
source_dir=$2
work_dir=$3
# shellcheck source=tests/node_check.sh
source "$source_dir/tests/node_check.sh"

need_node "the SDK check"
npm_install_once "$work_dir" @extrahorizon/javascript-sdk @extrahorizon/javascript-sdk@8
sdk_dir=$work_dir/node_modules/@extrahorizon/javascript-sdk
echo "SDK $(node -p "require('$sdk_dir/package.json').version")"

run_dir=$(mktemp -d /tmp/dispatch-sdk.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" || true; fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

"$dispatchd" --dispatch.data-dir="$run_dir/data" --dispatch.http.port=0 2>"$run_dir/dispatchd.log" &
pid=$!
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$run_dir/dispatchd.log" | head -1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "dispatchd did not start:"
  cat "$run_dir/dispatchd.log"
  exit 1
fi

status=0
NODE_PATH=$work_dir/node_modules node "$source_dir/tests/sdk/sdk_check.js" "http://localhost:$port" \
  || status=$?
kill -TERM "$pid"
if ! wait "$pid"; then
  echo "dispatchd did not exit 0 after SIGTERM"
  status=1
fi
pid=
if [ "$status" -ne 0 ]; then
  echo "--- dispatchd log"
  cat "$run_dir/dispatchd.log"
fi
exit "$status"
