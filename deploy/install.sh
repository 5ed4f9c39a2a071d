#!/bin/sh
# The one way the project is installed, from pyproject.toml + uv.lock: `make` (and so CI) and the
# Dockerfile run this script.
#
#   deploy/install.sh dev     editable, with the test extras, into $VENV (default .venv)   (make install)
#   deploy/install.sh image   the package itself (a wheel, not editable), no extras         (Dockerfile)
#
# PYTHON (default python3.11), VENV and TOOLS (where uv is installed, default .tools) come from the
# environment; UV_OFFLINE=1 installs from uv's cache alone.
set -eu
mode=${1:-dev}
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
TOOLS=${TOOLS:-.tools}
UV_VERSION=0.13.9
cd "$(dirname "$0")/.."

if [ ! -x "$TOOLS/bin/uv" ]; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on these machines and in
# the image), every process would otherwise compile Dagster, pandas and the rest at each import.
case "$mode" in
  dev)
    UV_PROJECT_ENVIRONMENT="$VENV" "$TOOLS/bin/uv" sync --frozen --compile-bytecode --extra test --python "$PYTHON"
    "$VENV/bin/python" -m compileall -q ci_assets
    ;;
  image)
    UV_PROJECT_ENVIRONMENT="$VENV" "$TOOLS/bin/uv" sync --frozen --compile-bytecode --no-editable --python "$PYTHON"
    ;;
  *)
    echo "usage: deploy/install.sh [dev|image]" >&2
    exit 2
    ;;
esac
