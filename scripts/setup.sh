#!/bin/sh
# Sets up a development environment from nothing: uv, a virtualenv with the pinned
# dependencies, this package (editable) and the system Chromium. Safe to run again.
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh --dev    plus the test and lint tools
set -eu
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! command -v uv >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
fi
UV="$(command -v uv || echo "$PYTHON -m uv")"

[ -x .venv/bin/python ] || $UV venv --quiet --python "$PYTHON" .venv
$UV pip install --quiet --python .venv/bin/python -r requirements.lock
$UV pip install --quiet --python .venv/bin/python --no-deps -e .

if [ ! -x "${WAYCORE_CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    SUDO=""
    [ "$(id -u)" = "0" ] || SUDO="sudo"
    echo "installing the system Chromium (apt-get install chromium)..."
    $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || {
        $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq chromium >/dev/null
    }
fi
if [ "${1:-}" = "--dev" ] && ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = "0" ] || SUDO="sudo"
    $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
