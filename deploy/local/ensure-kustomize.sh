#!/usr/bin/env bash
# Print the path of a kustomize binary of the pinned version, building it once per machine from
# the Go module proxy into the project cache (as kafka.sh caches Kafka's jars). The deployment
# tests render deploy/k8s with it, so what they check is what `kustomize build` produces.
# Needs Go (https://go.dev/dl/); fails, with the reason on stderr, when it cannot build.
set -euo pipefail
KUSTOMIZE_VERSION=5.7.1
# The same cache directory as common.sh's CACHE_DIR.
cache=${ALICE_INGESTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alice-report-ingestor}
dir="$cache/kustomize-$KUSTOMIZE_VERSION"
if [ ! -x "$dir/kustomize" ]; then
  command -v go >/dev/null || { echo "[setup] go not found: install Go 1.22+ to build kustomize $KUSTOMIZE_VERSION" >&2; exit 1; }
  echo "[setup] building kustomize $KUSTOMIZE_VERSION from the Go module proxy into $dir (once per machine)" >&2
  # Built beside its final place, then renamed onto it (atomic): a concurrent run sees either
  # no binary or a whole one, and two concurrent builds replace each other harmlessly.
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp" "$dir"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -modcacherw" \
    go install "sigs.k8s.io/kustomize/kustomize/v5@v$KUSTOMIZE_VERSION" >&2 \
    || { echo "[setup] go install of kustomize $KUSTOMIZE_VERSION failed" >&2; exit 1; }
  "$tmp/kustomize" version >/dev/null || { echo "[setup] the built kustomize does not run" >&2; exit 1; }
  mv -f "$tmp/kustomize" "$dir/kustomize"
fi
echo "$dir/kustomize"
