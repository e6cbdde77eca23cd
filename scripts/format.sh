#!/usr/bin/env bash
# Applies .clang-format to every C++ file in the tree, or with --check lists the files that
# differ from it and exits 1. The style is pinned to clang-format 14 (Debian 12's), since
# other versions format some constructs differently.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=apply
case "${1:-}" in
    --check) mode=check ;;
    "") ;;
    *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac
tool=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$tool" ]; then
    echo "format: clang-format not found (scripts/deps.sh format installs it)" >&2
    exit 2
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [ "$mode" = apply ]; then
    "$tool" -i "${files[@]}"
    exit 0
fi
bad=()
for f in "${files[@]}"; do
    "$tool" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "format: ${#bad[@]} file(s) differ from .clang-format (run make format):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "format: ${#files[@]} files follow .clang-format"
