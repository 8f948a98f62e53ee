#!/usr/bin/env bash
# Latest-releases check: does the course still pass with the newest transformers, datasets, peft,
# accelerate and evaluate, ignoring the upper bounds in pyproject.toml? Catches API removals before
# learners who `pip install -U` hit them.
#
#   tools/latest_check.sh [--pre] [--always]      (or: make latest-check [LATEST_FLAGS=--pre])
#
# 1. makes or reuses a separate venv (.venv-latest; the course's .venv is not touched) and installs
#    the course there as `make install` does;
# 2. upgrades the five packages to their newest releases (`pip install -U`, dependencies upgraded
#    only where a new release needs it; --pre also takes pre-releases);
# 3. compares their versions with .venv's; if none is newer it says so and stops (--always: test anyway);
# 4. runs `make test` (unit tests + every notebook, offline, quick profile) in that venv;
# 5. prints a short report (versions, pip check, test summary, the failures' first lines).
# Exit status: 0 nothing new or all passed, 1 tests failed, 2 set-up failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(transformers datasets peft accelerate evaluate)
WATCH=("${PACKAGES[@]}" huggingface_hub tokenizers safetensors sentence-transformers torch)
LATEST_VENV=${LATEST_VENV:-.venv-latest}
BASE_VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
MAKE=${MAKE:-make}
PRE=""
ALWAYS=0
for arg in "$@"; do
  case "$arg" in
    --pre) PRE="--pre" ;;
    --always) ALWAYS=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "latest_check: unknown argument '$arg' (accepted: --pre, --always)" >&2; exit 2 ;;
  esac
done
LOG_DIR=build/latest-check
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/test.log"
PY="$LATEST_VENV/bin/python"
STAMP="$LATEST_VENV/.course-installed"
t0=$(date +%s)

versions() {  # versions <python>: "name version" per watched package
  "$1" - "${WATCH[@]}" <<'EOF'
import sys
from importlib import metadata
for name in sys.argv[1:]:
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        print(name, "-")
EOF
}

echo "== 1. course install in $LATEST_VENV (as make install)"
# The Makefile's own install rule, with VENV pointed at the separate venv.
if ! $MAKE --no-print-directory VENV="$LATEST_VENV" PYTHON="$PYTHON" install >"$LOG_DIR/install.log" 2>&1; then
  tail -20 "$LOG_DIR/install.log"; echo "latest_check: install failed (log: $LOG_DIR/install.log)"; exit 2
fi

echo "== 2. pip install -U $PRE ${PACKAGES[*]}"
# (pip resolves only what it is asked for, so course-utils' upper bounds do not hold it back; with
# PYTHONDONTWRITEBYTECODE unset it writes .pyc files, without which imports take twice as long.)
if ! env -u PYTHONDONTWRITEBYTECODE "$PY" -m pip install -q -U $PRE "${PACKAGES[@]}" >"$LOG_DIR/upgrade.log" 2>&1; then
  tail -20 "$LOG_DIR/upgrade.log"; echo "latest_check: upgrade failed (log: $LOG_DIR/upgrade.log)"; exit 2
fi
# pip warns when a new release leaves our bounds (course-utils requires transformers<6, ...): keep it.
grep -i "incompatible\|requires" "$LOG_DIR/upgrade.log" | sed 's/^/   pip: /'
touch "$STAMP"  # so that make does not reinstall (and downgrade) before testing

echo "== 3. versions: course venv ($BASE_VENV) vs latest ($LATEST_VENV)"
newer=0
if [ -x "$BASE_VENV/bin/python" ]; then
  paste <(versions "$BASE_VENV/bin/python") <(versions "$PY") | while read -r name base _ latest; do
    mark=""; [ "$base" != "$latest" ] && mark="  <- changed"
    printf '   %-22s %-14s %-14s%s\n' "$name" "$base" "$latest" "$mark"
  done
  for p in "${PACKAGES[@]}"; do
    [ "$(versions "$BASE_VENV/bin/python" | grep "^$p ")" != "$(versions "$PY" | grep "^$p ")" ] && newer=1
  done
else
  versions "$PY" | sed 's/^/   /'; newer=1
fi
# The stand-in packages are installed --no-deps on purpose: their missing dependencies are expected.
standins=$("$PY" -m course_utils requirements | tr ' ' '\n' | sed 's/[=<>].*//' | paste -sd'|')
pip_check=$("$PY" -m pip check 2>&1 | grep -viE "^(${standins:-none}) " | grep -v "No broken requirements")
echo "   pip check: ${pip_check:-clean (apart from the stand-ins, installed --no-deps)}" | head -8

if [ "$newer" = 0 ] && [ "$ALWAYS" = 0 ]; then
  echo "== nothing newer than the course's $BASE_VENV among: ${PACKAGES[*]}; tests not run (--always runs them)"
  echo "latest_check: done in $(( $(date +%s) - t0 )) s"
  exit 0
fi

echo "== 4. make test in $LATEST_VENV (unit tests + notebooks; log: $LOG)"
$MAKE --no-print-directory VENV="$LATEST_VENV" PYTHON="$PYTHON" test >"$LOG" 2>&1
status=$?

echo "== 5. report"
grep -E "^(FAILED|ERROR) " "$LOG" | head -30 | sed 's/^/   /'
grep -E "^E   " "$LOG" | sort | uniq -c | sort -rn | head -10 | sed 's/^/   /'
grep -E "(passed|failed|error)[^a-z]*.* in [0-9.]+s" "$LOG" | tail -1 | sed 's/^/   /'
grep -E "all notebooks" "$LOG" | sed 's/^/   /'
if [ "$status" = 0 ]; then
  echo "latest_check: PASSED with the newest releases ($(( $(date +%s) - t0 )) s)"
  exit 0
fi
if [ "$newer" = 0 ]; then
  echo "   (no package differs from $BASE_VENV: these failures are not caused by new releases; make test shows them too)"
fi
echo "latest_check: FAILED with the newest releases ($(( $(date +%s) - t0 )) s); full log: $LOG"
exit 1
