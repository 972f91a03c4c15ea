#!/usr/bin/env bash
# Run the project's pinned Helm: `bash scripts/helm.sh <helm args>` (or `just helm <args>`).
# Helm is built once from the Go module proxy, pinned by cluster/gomod/helm/go.mod + go.sum, into
# .cache/helm/bin and rebuilt only when that module or this script changes — the same pattern as
# cluster/build.sh, so nothing is downloaded at run time. `scripts/helm.sh --build-only` just builds.
# Build messages go to stderr so that `helm template` output stays clean on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod="$root/cluster/gomod/helm"
BIN="${HELM_BIN_DIR:-$root/.cache/helm/bin}"
helm="$BIN/helm"

want="$(cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [[ ! -x "$helm" || ! -f "$BIN/.helm.stamp" || "$(cat "$BIN/.helm.stamp")" != "$want" ]]; then
  command -v go >/dev/null 2>&1 ||
    { echo "FATAL: scripts/helm.sh builds Helm from the Go module proxy and needs Go >= 1.26 on PATH" >&2; exit 1; }
  version="$(awk '$1 == "helm.sh/helm/v4" || $2 == "helm.sh/helm/v4" { print ($1 == "require" ? $3 : $2) }' "$mod/go.mod")"
  [[ -n "$version" ]] || { echo "FATAL: cluster/gomod/helm/go.mod does not require helm.sh/helm/v4" >&2; exit 1; }
  mkdir -p "$BIN"
  echo "helm: building helm.sh/helm/v4 $version ..." >&2
  t0=$SECONDS
  # Helm stamps its version through ldflags; without it `helm version` says v4 with no patch.
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
    go build -p "${CLUSTER_BUILD_PAR:-2}" -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    -o "$helm.tmp" helm.sh/helm/v4/cmd/helm) >&2
  mv -f "$helm.tmp" "$helm"
  echo "$want" > "$BIN/.helm.stamp"
  echo "helm: built in $((SECONDS - t0))s ($helm)" >&2
fi
[[ "${1:-}" == "--build-only" ]] && exit 0
exec "$helm" "$@"
