#!/usr/bin/env bash
# Checks that every tracked .cpp/.hpp file is formatted as .clang-format says; changes nothing.
# Prints each file that differs with the number of lines clang-format would change, and exits 1
# if any does (0 when all are formatted, 2 when the check cannot run).
#
# Usage: scripts/format-check.sh [--diff] [FILE...]
#   --diff   also print what clang-format would change (a unified diff per file)
#   FILE...  check these files instead of every tracked .cpp/.hpp
# Environment: CLANG_FORMAT (default: clang-format), JOBS (parallel checks, default 2).
# The layout is that of Debian's clang-format 14 (scripts/install-deps.sh installs it); another
# major version may break lines differently, so the check says which version it ran.
set -euo pipefail

cd "$(dirname "$0")/.."

clang_format=${CLANG_FORMAT:-clang-format}
jobs=${JOBS:-2}
show_diff=0
files=()
for arg in "$@"; do
  case $arg in
    --diff) show_diff=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "format-check: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done

if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "format-check: $clang_format not found (apt-get install clang-format, or scripts/install-deps.sh)" >&2
  exit 2
fi
if [ ! -f .clang-format ]; then
  echo "format-check: no .clang-format at $(pwd)" >&2
  exit 2
fi

if [ ${#files[@]} -eq 0 ]; then
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp')
  else
    mapfile -t files < <(find . -path ./build -prune -o -path './build-*' -prune -o \
                           -path ./.git -prune -o \( -name '*.cpp' -o -name '*.hpp' \) -print |
                           sed 's|^\./||' | sort)
  fi
fi

version=$("$clang_format" --version)
case $version in
  *"version 14."*) ;;
  *) echo "format-check: warning: .clang-format was tuned with clang-format 14; this is: $version" >&2 ;;
esac

# One file: prints "<changed lines> <file>" when clang-format would change it (the changed lines
# are those of the formatted text that differ from the file), and its diff with --diff; prints
# "error <file>" when clang-format cannot format it.
check_one() {
  local file=$1 formatted changed
  [ -f "$file" ] || return 0
  formatted=$(mktemp)
  if ! "$clang_format" --style=file --fallback-style=none "$file" > "$formatted"; then
    echo "error $file"
    rm -f "$formatted"
    return 0
  fi
  changed=$(diff "$file" "$formatted" | grep -c '^>' || true)
  if [ "$changed" -gt 0 ]; then
    echo "$changed $file"
    if [ "$SHOW_DIFF" -eq 1 ]; then
      diff -u --label "$file" --label "$file (formatted)" "$file" "$formatted" || true
    fi
  fi
  rm -f "$formatted"
}
export -f check_one
export SHOW_DIFF=$show_diff clang_format
# Diffs of files checked in parallel would interleave.
[ "$show_diff" -eq 1 ] && jobs=1

report=$(printf '%s\0' "${files[@]}" | xargs -0 -n 8 -P "$jobs" bash -c 'for f; do check_one "$f"; done' _)

if [ -z "$report" ]; then
  echo "format-check: ${#files[@]} files formatted as .clang-format says ($version)"
  exit 0
fi

if [ "$show_diff" -eq 1 ]; then
  printf '%s\n' "$report"
  echo
fi
failed=$(printf '%s\n' "$report" | grep -E '^error ' | cut -d' ' -f2- || true)
if [ -n "$failed" ]; then
  echo "format-check: $clang_format could not format:" >&2
  printf '  %s\n' $failed >&2
  exit 2
fi
summary=$(printf '%s\n' "$report" | grep -E '^[0-9]+ ' | sort -k2)
count=$(printf '%s\n' "$summary" | wc -l)
lines=$(printf '%s\n' "$summary" | awk '{s += $1} END {print s}')
echo "format-check: $count of ${#files[@]} files differ from .clang-format ($lines lines would change):"
printf '%s\n' "$summary" | awk '{printf "  %s (%d line%s)\n", $2, $1, $1 == 1 ? "" : "s"}'
echo "Fix one with: $clang_format -i FILE   (or see the changes with: scripts/format-check.sh --diff FILE)"
exit 1
