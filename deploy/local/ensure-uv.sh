#!/usr/bin/env bash
# Print the path of a uv binary, installing a pinned uv from PyPI into the project cache when the
# machine has none. uv then creates the project's environment from uv.lock.
set -euo pipefail
UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
cache=${ALICE_INGESTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alice-report-ingestor}
if [ ! -x "$cache/uv-$UV_VERSION/bin/uv" ]; then
  command -v python3 >/dev/null || { echo "python3 (3.11+) is required" >&2; exit 1; }
  echo "[setup] installing uv $UV_VERSION from PyPI into $cache/uv-$UV_VERSION" >&2
  python3 -m venv "$cache/uv-$UV_VERSION" >&2
  "$cache/uv-$UV_VERSION/bin/pip" install -q "uv==$UV_VERSION" >&2
fi
echo "$cache/uv-$UV_VERSION/bin/uv"
