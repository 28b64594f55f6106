#!/usr/bin/env bash
# Fail when a formatter or linter would change a file: clang-format (style in
# .clang-format) on every tracked C file, ruff format and ruff check
# (configured in pyproject.toml) on the Python tree.  To apply the fixes:
#   .venv/bin/clang-format -i $(git ls-files '*.c' '*.h')
#   .venv/bin/ruff format . && .venv/bin/ruff check --fix .
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t cfiles < <(git ls-files '*.c' '*.h')
.venv/bin/clang-format --dry-run --Werror "${cfiles[@]}"
.venv/bin/ruff format --check --quiet .
.venv/bin/ruff check --quiet .
echo "style: clang-format and ruff report nothing to change"
