#!/usr/bin/env bash
# Runs each libFuzzer target of a DISPATCH_FUZZ build for a set time (`make fuzz`), each on its
# working corpus (BUILD_DIR/fuzz-corpus/<target>, seeded from fuzz/corpus/<target> and kept between
# runs), and prints per target the executions, their rate, the corpus size and the findings (crash,
# leak, timeout and out-of-memory inputs in BUILD_DIR/fuzz-findings/<target>/). Exits 1 when a
# target found something. Usage: fuzz-run.sh BUILD_DIR SECONDS TARGET... (FUZZ_ARGS: more libFuzzer
# flags).
set -uo pipefail

build_dir=$1
seconds=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/scripts/ubsan.supp"
export ASAN_OPTIONS="detect_leaks=1"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp"

summary=()
found=0
for target in "$@"; do
  exe=$build_dir/fuzz/fuzz_$target
  corpus=$build_dir/fuzz-corpus/$target
  findings=$build_dir/fuzz-findings/$target
  log=$build_dir/fuzz-$target.log
  mkdir -p "$corpus" "$findings"
  cp -n "$root/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  before=$(ls "$findings" | wc -l)
  echo "fuzz: $target for ${seconds}s (log: $log)"
  # -timeout: an input that takes this long is a finding; -rss_limit_mb: so is this much memory.
  "$exe" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" ${FUZZ_ARGS:-} "$corpus" > "$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  new=$(( $(ls "$findings" | wc -l) - before ))
  if [ "$status" -ne 0 ] || [ "$new" -gt 0 ]; then
    found=1
    what="FOUND $new (exit $status): $(ls -t "$findings" | head -n "$((new > 0 ? new : 1))" | tr '\n' ' ')"
  else
    what="none"
  fi
  summary+=("$(printf '%-14s %12s execs %8s exec/s %6s inputs  findings: %s' "$target" \
    "${runs:-?}" "${rate:-?}" "$(ls "$corpus" | wc -l)" "$what")")
done

echo
echo "fuzz: ${seconds}s per target"
printf '%s\n' "${summary[@]}"
exit $found
