#!/usr/bin/env bash
# End-to-end smoke test of the local control plane using only kubectl.
# Requires a running cluster (cluster/up.sh). Prints a timing per step and a
# final "N passed, 0 failed" line; exits non-zero on the first failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -f "$STATE_FILE" ]] || die "cluster not up ($STATE_FILE missing); run cluster/up.sh"
load_state
# v1alpha1 requests are expected here; keep kubectl's deprecation warning out of the report.
exec 2> >(grep --line-buffered -v 'v1alpha1 Sandbox is deprecated' >&2)
NS=openshell-system
PASSED=0
T0=$(date +%s%N)
_ts=0
step() { _ts=$(date +%s%N); printf '• %s\n' "$*" >&2; }
ms() { echo $((($(date +%s%N) - _ts) / 1000000)); }
note() { printf '    %s (at %d ms)\n' "$*" "$(ms)" >&2; }
ok() { PASSED=$((PASSED + 1)); printf '  ok (%d ms)\n' "$(ms)" >&2; }
fail() {
  printf '  FAILED: %s\n' "$*" >&2
  kc -n "$NS" get sandboxes.v1beta1.agents.x-k8s.io,pods -o wide >&2 || true
  echo "$PASSED passed, 1 failed" >&2
  exit 1
}
trap 'fail "command failed at line $LINENO"' ERR

sandbox() { # name apiVersion spec-extra-line
  cat <<EOF
apiVersion: agents.x-k8s.io/$2
kind: Sandbox
metadata:
  name: $1
  namespace: $NS
spec:
$3
  podTemplate:
    metadata:
      labels: {app: smoke}
    spec:
      containers:
      - name: main
        image: busybox:1.37
        command: [sleep, infinity]
EOF
}
sb_cond() { kc -n "$NS" get "sandboxes.v1beta1.agents.x-k8s.io/$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}"; }
wait_cond() { # name cond status timeout
  local deadline=$((SECONDS + ${4:-60}))
  until [[ "$(sb_cond "$1" "$2")" == "$3" ]]; do
    ((SECONDS < deadline)) || fail "sandbox $1: condition $2 never became $3"
    sleep 0.2
  done
}
wait_gone() { # kind/name timeout
  kc -n "$NS" wait --for=delete "$1" --timeout="${2:-60}s" >/dev/null 2>&1 || {
    kc -n "$NS" get "$1" >/dev/null 2>&1 && fail "$1 still exists"
    true
  }
}
# pv_of CLAIM: the bound volume's name and its directory ("name path").
pv_of() {
  local pv
  pv="$(kc -n "$NS" get pvc "$1" -o jsonpath='{.spec.volumeName}')"
  echo "$pv $(kc get pv "$pv" -o jsonpath='{.spec.hostPath.path}')"
}
wait_claim_bound() { # claim timeout
  local deadline=$((SECONDS + ${2:-30}))
  until [[ "$(kc -n "$NS" get pvc "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" == Bound ]]; do
    ((SECONDS < deadline)) || fail "claim $1 never became Bound"
    sleep 0.2
  done
}
wait_volume_deleted() { # pv path timeout
  wait_gone "pv/$1" "${3:-60}"
  local deadline=$((SECONDS + 10))
  while [[ -e "$2" ]]; do ((SECONDS < deadline)) || fail "volume directory $2 left behind"; sleep 0.2; done
}
cleanup() {
  kc -n "$NS" delete sandboxes.v1beta1.agents.x-k8s.io smoke-beta smoke-alpha smoke-after-outage \
    --ignore-not-found --wait=false >/dev/null 2>&1 || true
  kc -n "$NS" delete pod smoke-gpu smoke-claim-user --ignore-not-found --grace-period=0 --wait=false >/dev/null 2>&1 || true
  kc -n "$NS" delete sandboxes.v1beta1.agents.x-k8s.io smoke-workspace --ignore-not-found --wait=false >/dev/null 2>&1 || true
  kc -n "$NS" delete pvc smoke-claim --ignore-not-found --wait=false >/dev/null 2>&1 || true
}
cleanup
for o in pod/smoke-beta pod/smoke-alpha pod/smoke-gpu pod/smoke-after-outage pod/smoke-claim-user \
  pod/smoke-workspace pvc/smoke-claim pvc/workspace-smoke-workspace; do wait_gone "$o" 30; done

step "server version is $K8S_VERSION"
v="$(kc get --raw /version | tr -d ' \n' | sed -E 's/.*"gitVersion":"([^"]+)".*/\1/')"
[[ "$v" == "$K8S_VERSION" ]] || fail "server reports $v"
ok

step "nodes Ready, kwok-node-gpu allocatable nvidia.com/gpu=2"
[[ "$(kc get node kwok-node-gpu -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')" == 2 ]] || fail "gpu allocatable missing"
kc wait --for=condition=Ready node/kwok-node-0 node/kwok-node-gpu --timeout=30s >/dev/null
ok

step "v1beta1 Sandbox becomes Ready (pod scheduled, Running, Ready, IP)"
sandbox smoke-beta v1beta1 "  operatingMode: Running" | kc apply -f - >/dev/null
wait_cond smoke-beta Ready True 60
ip="$(kc -n "$NS" get pod smoke-beta -o jsonpath='{.status.podIP}')"
node="$(kc -n "$NS" get pod smoke-beta -o jsonpath='{.spec.nodeName}')"
[[ -n "$ip" && -n "$node" ]] || fail "pod has no IP/node"
[[ -n "$(kc -n "$NS" get sandboxes.v1beta1.agents.x-k8s.io smoke-beta -o jsonpath='{.status.podIPs[0]}')" ]] || fail "sandbox status.podIPs empty"
[[ "$(sb_cond smoke-beta PodScheduled)" == True ]] || fail "PodScheduled condition is not True"
ok

step "v1beta1 operatingMode=Suspended -> Suspended=True and pod deleted"
kc -n "$NS" patch sandboxes.v1beta1.agents.x-k8s.io smoke-beta --type=merge -p '{"spec":{"operatingMode":"Suspended"}}' >/dev/null
wait_cond smoke-beta Suspended True 60
wait_gone pod/smoke-beta 30
ok

step "v1beta1 operatingMode=Running -> Ready again"
kc -n "$NS" patch sandboxes.v1beta1.agents.x-k8s.io smoke-beta --type=merge -p '{"spec":{"operatingMode":"Running"}}' >/dev/null
wait_cond smoke-beta Ready True 60
wait_cond smoke-beta Suspended False 10
ok

# agent-sandbox v1.0 serves v1beta1 only: the v1alpha1 steps need v0.5.x's conversion webhook.
if [[ "${SANDBOX_CONVERSION_WEBHOOK:-1}" == 1 ]]; then
step "v1alpha1 Sandbox (replicas=1) becomes Ready; reads back as v1beta1 Running"
sandbox smoke-alpha v1alpha1 "  replicas: 1" | kc apply -f - >/dev/null
wait_cond smoke-alpha Ready True 60
[[ "$(kc -n "$NS" get sandboxes.v1beta1.agents.x-k8s.io smoke-alpha -o jsonpath='{.spec.operatingMode}')" == Running ]] || fail "v1beta1 view is not Running"
ok

step "v1alpha1 replicas=0 -> Suspended=True, pod deleted, v1beta1 view Suspended"
kc -n "$NS" patch sandboxes.v1alpha1.agents.x-k8s.io smoke-alpha --type=merge -p '{"spec":{"replicas":0}}' >/dev/null
wait_cond smoke-alpha Suspended True 60
wait_gone pod/smoke-alpha 30
[[ "$(kc -n "$NS" get sandboxes.v1beta1.agents.x-k8s.io smoke-alpha -o jsonpath='{.spec.operatingMode}')" == Suspended ]] || fail "v1beta1 view is not Suspended"
[[ "$(kc -n "$NS" get sandboxes.v1alpha1.agents.x-k8s.io smoke-alpha -o jsonpath='{.spec.replicas}')" == 0 ]] || fail "v1alpha1 view replicas != 0"
ok

step "v1alpha1 replicas=1 -> Ready again; v1beta1 object reads back as v1alpha1 replicas=1"
kc -n "$NS" patch sandboxes.v1alpha1.agents.x-k8s.io smoke-alpha --type=merge -p '{"spec":{"replicas":1}}' >/dev/null
wait_cond smoke-alpha Ready True 60
[[ "$(kc -n "$NS" get sandboxes.v1alpha1.agents.x-k8s.io smoke-alpha -o jsonpath='{.spec.replicas}')" == 1 ]] || fail "v1alpha1 view replicas != 1"
[[ "$(kc -n "$NS" get sandboxes.v1alpha1.agents.x-k8s.io smoke-beta -o jsonpath='{.spec.replicas}')" == 1 ]] || fail "v1beta1-created sandbox does not read as v1alpha1 replicas=1"
ok
else
  printf '• v1alpha1 steps skipped: agent-sandbox %s serves agents.x-k8s.io/v1beta1 only\n' "${AGENT_SANDBOX_VERSION:-}" >&2
fi

step "pod requesting nvidia.com/gpu: 1 lands on kwok-node-gpu"
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: smoke-gpu, namespace: $NS}
spec:
  containers:
  - name: main
    image: busybox:1.37
    resources:
      limits: {nvidia.com/gpu: 1}
EOF
kc -n "$NS" wait --for=condition=Ready pod/smoke-gpu --timeout=60s >/dev/null
[[ "$(kc -n "$NS" get pod smoke-gpu -o jsonpath='{.spec.nodeName}')" == kwok-node-gpu ]] || fail "gpu pod not on kwok-node-gpu"
kc -n "$NS" delete pod smoke-gpu --wait=false >/dev/null
wait_gone pod/smoke-gpu 30
ok

step "default StorageClass: a claim binds, a pod using it runs, deleting the claim deletes the volume and its directory"
[[ "$(kc get storageclass hostpath -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}')" == true ]] ||
  fail "StorageClass hostpath is not the default"
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: smoke-claim, namespace: $NS}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: smoke-claim-user, namespace: $NS}
spec:
  containers: [{name: main, image: busybox:1.37, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: smoke-claim}}]
EOF
wait_claim_bound smoke-claim
read -r pv dir < <(pv_of smoke-claim)
[[ -d "$dir" ]] || fail "volume $pv has no directory $dir"
kc -n "$NS" wait --for=condition=Ready pod/smoke-claim-user --timeout=60s >/dev/null
kc -n "$NS" delete pod smoke-claim-user --wait=false >/dev/null
kc -n "$NS" delete pvc smoke-claim --wait=false >/dev/null
wait_volume_deleted "$pv" "$dir"
ok

step "a Sandbox's workspace claim (volumeClaimTemplates) survives suspend; deleting the Sandbox deletes claim, volume and directory"
{
  sandbox smoke-workspace v1beta1 "  operatingMode: Running"
  cat <<EOF
  volumeClaimTemplates:
  - metadata: {name: workspace}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
EOF
} | kc apply -f - >/dev/null
wait_cond smoke-workspace Ready True 60
wait_claim_bound workspace-smoke-workspace
uid="$(kc -n "$NS" get pvc workspace-smoke-workspace -o jsonpath='{.metadata.uid}')"
read -r pv dir < <(pv_of workspace-smoke-workspace)
kc -n "$NS" patch sandboxes.v1beta1.agents.x-k8s.io smoke-workspace --type=merge -p '{"spec":{"operatingMode":"Suspended"}}' >/dev/null
wait_cond smoke-workspace Suspended True 60
wait_gone pod/smoke-workspace 30
[[ "$(kc -n "$NS" get pvc workspace-smoke-workspace -o jsonpath='{.metadata.uid}')" == "$uid" ]] || fail "claim not kept across suspend"
kc -n "$NS" delete sandboxes.v1beta1.agents.x-k8s.io smoke-workspace --wait=false >/dev/null
wait_gone pvc/workspace-smoke-workspace 60
wait_volume_deleted "$pv" "$dir"
ok

step "delete Sandbox -> owned pod garbage-collected by kube-controller-manager"
kc -n "$NS" delete sandboxes.v1beta1.agents.x-k8s.io smoke-beta --wait=false >/dev/null
wait_gone pod/smoke-beta 60
ok

step "kube-apiserver outage: stop, start on the same port, cluster healthy again (then v1alpha1 scale to 0)"
port_before="$APISERVER_PORT"
bash "$CLUSTER_SRC/apiserver.sh" stop 2>/dev/null
if kc get --raw /readyz --request-timeout=2s >/dev/null 2>&1; then fail "apiserver still answering after stop"; fi
sleep 2
bash "$CLUSTER_SRC/apiserver.sh" start 2>/dev/null
note "apiserver stopped, restarted and ready"
load_state
[[ "$APISERVER_PORT" == "$port_before" ]] || fail "port changed"
for c in "${COMPONENTS[@]}"; do pid_matches "$(component_pid "$c")" "$c" || fail "$c died during the outage"; done
sandbox smoke-after-outage v1beta1 "  operatingMode: Running" | kc apply -f - >/dev/null
wait_cond smoke-after-outage Ready True 90
note "new Sandbox Ready (controller + kwok watches resumed)"
if [[ "${SANDBOX_CONVERSION_WEBHOOK:-1}" == 1 ]]; then
  # the v1alpha1 scale subresource goes through the conversion webhook too
  kc -n "$NS" scale sandboxes.v1alpha1.agents.x-k8s.io/smoke-alpha --replicas=0 >/dev/null
  wait_cond smoke-alpha Suspended True 60
fi
kc wait --for=condition=Ready node/kwok-node-0 node/kwok-node-gpu --timeout=30s >/dev/null
ok

step "cleanup"
kc -n "$NS" delete sandboxes.v1beta1.agents.x-k8s.io smoke-alpha smoke-after-outage --ignore-not-found --wait=false >/dev/null
wait_gone pod/smoke-after-outage 60
ok

trap - ERR
printf 'smoke: total %d ms\n' $((($(date +%s%N) - T0) / 1000000)) >&2
echo "$PASSED passed, 0 failed"
