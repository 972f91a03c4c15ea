#!/usr/bin/env bash
# The e2e tier on other supported Kubernetes / agent-sandbox pairs, one control plane at a time,
# each from its own directory and ports (cluster/lib.sh cluster_dir_for), beside the default one.
#   bash scripts/test-matrix.sh [CELL...]     CELL = <k8s-version>/<agent-sandbox-version>
# Default cells: the oldest supported Kubernetes with agent-sandbox v0.5.x and 1.33 with v1.0.x
# (the newest with v1.0.x is the default tier, `just test-e2e`); `all` = every pair of
# SUPPORTED_K8S_VERSIONS x SUPPORTED_AGENT_SANDBOX_VERSIONS (cluster/versions.env).
# A cell's binaries are built (and cached in .cache/cluster/) first: ~20 min cold per Kubernetes
# version on 2 cores, seconds when cached. Each cell's cluster is stopped after its tests unless
# MATRIX_KEEP=1; the default pair's cluster is never stopped. Prints one summary line per cell.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source cluster/versions.env
# shellcheck source=../cluster/lib.sh
cluster_dir_of() { (unset CLUSTER_DIR; REPO_ROOT="$root"; source cluster/lib.sh; cluster_dir_for "$1" "$2"); }

cells=("$@")
((${#cells[@]})) || cells=("v1.30.14/v0.5.6" "v1.33.13/v1.0.1")
if [[ "${cells[*]}" == all ]]; then
  cells=()
  for k in $SUPPORTED_K8S_VERSIONS; do for a in $SUPPORTED_AGENT_SANDBOX_VERSIONS; do cells+=("$k/$a"); done; done
fi
[[ -x dist/openshell-driver-k8s ]] || { echo "test-matrix: dist/openshell-driver-k8s is missing: run just build" >&2; exit 2; }

summary=()
status=0
for cell in "${cells[@]}"; do
  k8s="${cell%%/*}" as="${cell##*/}"
  dir="$(cluster_dir_of "$k8s" "$as")"
  log="$dir.e2e.log"
  echo "=== cell Kubernetes $k8s, agent-sandbox $as ($dir)" >&2
  t0=$SECONDS
  if ! K8S_VERSION="$k8s" AGENT_SANDBOX_VERSION="$as" bash cluster/build.sh >&2 ||
    ! K8S_VERSION="$k8s" AGENT_SANDBOX_VERSION="$as" CLUSTER_DIR="$dir" bash cluster/up.sh >&2; then
    summary+=("$k8s + agent-sandbox $as: cluster did not come up")
    status=1
    continue
  fi
  tb=$SECONDS
  K8S_VERSION="$k8s" AGENT_SANDBOX_VERSION="$as" CLUSTER_DIR="$dir" bun test --timeout 180000 test/e2e 2>&1 | tee "$log" >&2
  rc=${PIPESTATUS[0]}
  ((rc == 0)) || status=1
  count() { sed -n "s/^ *\([0-9][0-9]*\) $1\$/\1/p" "$log" | tail -n1; }
  summary+=("$k8s + agent-sandbox $as: $(count pass || true) pass, $(count fail || true) fail, $(count skip || true) skip; e2e $((SECONDS - tb)) s, build+up $((tb - t0)) s (log: $log)")
  if [[ "${MATRIX_KEEP:-0}" != 1 && "$dir" != "$root/.cache/cluster" ]]; then
    K8S_VERSION="$k8s" AGENT_SANDBOX_VERSION="$as" CLUSTER_DIR="$dir" bash cluster/down.sh >&2 || true
  fi
done
printf 'test-matrix: %s\n' "${summary[@]}"
exit "$status"
