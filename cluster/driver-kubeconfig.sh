#!/usr/bin/env bash
# Least-privilege kubeconfig for the driver:
#   cluster/driver-kubeconfig.sh <serviceaccount-name> <rbac-yaml>[,<rbac-yaml>...] <out-kubeconfig>
# Applies the RBAC manifests (which must create/bind the ServiceAccount), mints a
# 24h token for it and writes a kubeconfig with the cluster CA + that bearer
# token (no client certificate). Namespace: $SA_NAMESPACE (default openshell-system).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_SRC/pki.sh"
[[ $# -eq 3 ]] || { echo "usage: $0 <serviceaccount-name> <rbac-yaml> <out-kubeconfig>" >&2; exit 2; }
sa="$1" rbac="$2" out="$3"
ns="${SA_NAMESPACE:-openshell-system}"
IFS=, read -r -a manifests <<<"$rbac"
apply_args=()
for manifest in "${manifests[@]}"; do
  [[ -f "$manifest" ]] || die "RBAC manifest not found: $manifest"
  apply_args+=(-f "$manifest")
done
[[ -f "$STATE_FILE" ]] || die "cluster not set up ($STATE_FILE missing); run cluster/up.sh"
load_state
kc apply "${apply_args[@]}" >/dev/null
for _ in $(seq 50); do kc -n "$ns" get sa "$sa" >/dev/null 2>&1 && break; sleep 0.1; done
kc -n "$ns" get sa "$sa" >/dev/null || die "ServiceAccount $ns/$sa does not exist after applying $rbac"
token="$(kc -n "$ns" create token "$sa" --duration="${TOKEN_DURATION:-24h}")"
mkdir -p "$(dirname "$out")"
write_kubeconfig_for "$out" "$ns-$sa" "$ns" "token: $token"
log "wrote $out (ServiceAccount $ns/$sa, bearer token)"
