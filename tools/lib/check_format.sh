#!/usr/bin/env bash
# tools/lib/check_format.sh — fail when a tracked .c/.h file is not formatted
# as .clang-format says (clang-format 14, --dry-run --Werror). Prints the
# files and the first differences, and how to fix them.
#
#   tools/lib/check_format.sh            check the whole tree
#   tools/lib/check_format.sh FILE...    check these files only
#
# Fix: clang-format -i FILE... (or the command printed below).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
if ! command -v clang-format >/dev/null; then
    echo "check_format: clang-format not found (tools/lib/packages.txt: clang-format)" >&2
    exit 1
fi
if [ $# -gt 0 ]; then
    files=("$@")
else
    mapfile -d '' files < <(git ls-files -z -- '*.c' '*.h')
fi
# One clang-format run for all files; it names each unformatted file in its
# "FILE:LINE:COL: error: code should be clang-formatted" lines.
rc=0
out=$(printf '%s\0' "${files[@]}" | xargs -0 clang-format --dry-run --Werror 2>&1) || rc=$?
mapfile -t bad < <(printf '%s\n' "$out" |
    sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if [ "$rc" != 0 ] && [ ${#bad[@]} -eq 0 ]; then
    printf '%s\n' "$out" | head -20
    echo "check_format: clang-format failed (status $rc) without naming a file" >&2
    exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
    for f in "${bad[@]}"; do
        echo "$f: not clang-formatted; first difference:"
        (clang-format --dry-run "$f" 2>&1 | head -3 | sed 's/^/    /') || true
    done
    echo "check_format: ${#bad[@]} file(s) not formatted; fix with: clang-format -i ${bad[*]}"
    exit 1
fi
