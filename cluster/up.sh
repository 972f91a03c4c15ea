#!/usr/bin/env bash
# Start the local Kubernetes control plane as plain processes on 127.0.0.1:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (two fake
# nodes), the agent-sandbox controller (with its conversion webhook when its Sandbox CRD asks for one:
# v0.5.x) and the default StorageClass (KCM's hostpath provisioner) for the sandboxes' workspace claims.
# Env: K8S_VERSION / AGENT_SANDBOX_VERSION pick another supported pair (cluster/versions.env), which
# runs from its own directory .cache/cluster-<k8s>-agent-sandbox-<version> on its own free ports.
# Idempotent: if everything is already up and healthy it says so and exits 0
# (restarting only kube-controller-manager if this script changed its flags).
# Env: CLUSTER_KEEP_DATA=1 keeps the etcd data (and its volume directories) of a
# previous run (default: fresh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLUSTER_SRC/pki.sh"
cluster_lock
load_state # first: refuses a state.env written for another checkout before anything else

# The Sandbox CRD of this controller release, vendored by cluster/gomod/update.sh.
CRD_SRC="${SANDBOX_CRD:-$CLUSTER_SRC/crds/agent-sandbox-$AGENT_SANDBOX_VERSION/agents.x-k8s.io_sandboxes.yaml}"
SERVICE_CIDR=10.96.0.0/16
POD_CIDR=10.244.0.0/16
T_START=$SECONDS
# PLATFORM=openshift|kyma|kubernetes: install that flavour at the end (cluster/platform.sh); unset leaves
# what is installed as it is.
apply_platform() { [[ -z "${PLATFORM:-}" ]] || bash "$CLUSTER_SRC/platform.sh" "$PLATFORM" >/dev/null; }

require_bins
command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
command -v curl >/dev/null || die "curl is required (apt-get install curl)"
command -v ss >/dev/null || die "ss is required (apt-get install iproute2)"
[[ -f "$CRD_SRC" ]] || die "Sandbox CRD not found at $CRD_SRC (set SANDBOX_CRD=...)"
# v0.5.x serves v1alpha1 and v1beta1 and converts through the controller's webhook; v1.0 serves
# v1beta1 only, without one. Read it from the CRD and check the controller binary agrees.
SANDBOX_CONVERSION_WEBHOOK=0
if crd_uses_webhook "$CRD_SRC"; then
  SANDBOX_CONVERSION_WEBHOOK=1
  controller_has_webhook || die "$CRD_SRC converts through a webhook but $(bin_of agent-sandbox-controller) serves none (--enable-webhook): the CRD and the controller are from different agent-sandbox releases"
fi
mkdir -p "$CLUSTER_DIR" "$LOGS" "$KCFG_DIR"

# kube-controller-manager's argv. An idempotent `up` compares it with the running one's and
# restarts only KCM when it differs, so a flag added here reaches a cluster that is already up
# without wiping anyone's objects. --enable-hostpath-provisioner: the in-tree
# kubernetes.io/host-path provisioner behind the default StorageClass (see apply_storage_class).
# --kube-api-qps/burst: each workspace claim costs the volume controllers ~6 writes and the
# client default (20 qps) made 200 sandboxes wait over a minute for their claims.
# --use-service-account-credentials=false: the controllers act as KCM's own system:masters
# identity (see pki.sh), so a restarted kube-apiserver's empty RBAC cache cannot refuse them.
kcm_args() {
  local kcfg="$KCFG_DIR/kube-controller-manager.kubeconfig"
  KCM_ARGS=(
    --kubeconfig="$kcfg" --authentication-kubeconfig="$kcfg" --authorization-kubeconfig="$kcfg"
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$CLUSTER_DIR/kcm-certs"
    --leader-elect=false --use-service-account-credentials=false
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key"
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key"
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR"
    --controllers='*' --enable-hostpath-provisioner --kube-api-qps=200 --kube-api-burst=400 --v=1
  )
}
# Every Sandbox gets a `workspace` claim from its volumeClaimTemplates; without a default class
# it would stay Pending and its pod would never schedule. Immediate binding: kwok nodes have no
# topology, and a claim bound before the pod exists lets the scheduler place the pod at once.
# Reclaim Delete: deleting a Sandbox (GC deletes its claim) deletes the volume and its directory.
apply_storage_class() {
  kc apply -f - >/dev/null <<'EOF'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: hostpath
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
}

# ---- already up? -----------------------------------------------------------
all_running=1
any_running=0
for c in "${COMPONENTS[@]}"; do
  if pid_matches "$(component_pid "$c")" "$c"; then any_running=1; else all_running=0; fi
done
if ((all_running)) && [[ -n "${APISERVER_PORT:-}" ]] && apiserver_ready \
  && kc get --raw /readyz >/dev/null 2>&1; then
  kcm_args
  if [[ "$(cat "$ARGS_DIR/kube-controller-manager.args" 2>/dev/null)" != "$(printf '%s\n' "${KCM_ARGS[@]}")" ]]; then
    log "kube-controller-manager flags changed; restarting only kube-controller-manager"
    stop_component kube-controller-manager
    start_component kube-controller-manager "${KCM_ARGS[@]}"
    wait_for kube-controller-manager 60 "/healthz on :$KCM_PORT" https_ok "$KCM_PORT"
  fi
  apply_storage_class
  log "cluster already up and healthy: apiserver https://127.0.0.1:$APISERVER_PORT, kubeconfig $KCFG"
  apply_platform
  exit 0
fi
if ((any_running)); then
  log "cluster partially running; stopping it before a fresh start"
  bash "$CLUSTER_SRC/down.sh"
  load_state
fi

# ---- ports + state -----------------------------------------------------------
_PICKED=" "
for v in ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT \
  SANDBOX_METRICS_PORT SANDBOX_HEALTH_PORT SANDBOX_WEBHOOK_PORT; do
  pick_port "$v"
done
{
  echo "# Written by cluster/up.sh; shell-sourceable. PIDs are empty when stopped."
  printf '%s=%q\n' REPO_DIR "$REPO_ROOT" K8S_VERSION "$K8S_VERSION" BIN_DIR "$BIN_DIR" CLUSTER_DIR "$CLUSTER_DIR" \
    KUBECONFIG "$KCFG" CA_FILE "$PKI/ca.crt" LOG_DIR "$LOGS" \
    AGENT_SANDBOX_VERSION "$AGENT_SANDBOX_VERSION" SANDBOX_BIN_DIR "$SANDBOX_BIN_DIR" \
    SANDBOX_CONVERSION_WEBHOOK "$SANDBOX_CONVERSION_WEBHOOK" \
    APISERVER_PORT "$APISERVER_PORT" APISERVER_URL "https://127.0.0.1:$APISERVER_PORT" \
    ETCD_CLIENT_PORT "$ETCD_CLIENT_PORT" ETCD_PEER_PORT "$ETCD_PEER_PORT" \
    KCM_PORT "$KCM_PORT" SCHEDULER_PORT "$SCHEDULER_PORT" KWOK_PORT "$KWOK_PORT" \
    SANDBOX_METRICS_PORT "$SANDBOX_METRICS_PORT" SANDBOX_HEALTH_PORT "$SANDBOX_HEALTH_PORT" \
    SANDBOX_WEBHOOK_PORT "$SANDBOX_WEBHOOK_PORT" \
    SERVICE_CIDR "$SERVICE_CIDR" POD_CIDR "$POD_CIDR"
  for c in "${COMPONENTS[@]}"; do echo "$(pid_var "$c")="; done
} > "$STATE_FILE"
load_state

ensure_pki
write_kubeconfig "$KCFG" kubernetes-admin "$PKI/admin.crt" "$PKI/admin.key"
for c in kube-controller-manager kube-scheduler kwok agent-sandbox-controller; do
  write_kubeconfig "$KCFG_DIR/$c.kubeconfig" "$c" "$PKI/$c.crt" "$PKI/$c.key"
done

# ---- etcd --------------------------------------------------------------------
if [[ "${CLUSTER_KEEP_DATA:-0}" != 1 ]]; then
  remove_hostpath_dirs # the volumes of the cluster whose data is about to go
  rm -rf "$CLUSTER_DIR/etcd-data"
fi
start_component etcd \
  --name=default --data-dir="$CLUSTER_DIR/etcd-data" \
  --listen-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
  --cert-file="$PKI/etcd-server.crt" --key-file="$PKI/etcd-server.key" \
  --client-cert-auth --trusted-ca-file="$PKI/ca.crt" \
  --unsafe-no-fsync --log-level=warn
etcd_healthy() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" "https://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'
}
wait_for etcd 30 "/health on :$ETCD_CLIENT_PORT" etcd_healthy

# ---- kube-apiserver ----------------------------------------------------------
start_component kube-apiserver \
  --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" --advertise-address=127.0.0.1 \
  --etcd-servers="https://127.0.0.1:$ETCD_CLIENT_PORT" \
  --etcd-cafile="$PKI/ca.crt" --etcd-certfile="$PKI/apiserver-etcd-client.crt" \
  --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --authorization-mode=Node,RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --api-audiences=https://kubernetes.default.svc.cluster.local,openshell-gateway \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --allow-privileged=true \
  --endpoint-reconciler-type=none \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
  --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --cert-dir="$CLUSTER_DIR/apiserver-certs" \
  --v=1
wait_for kube-apiserver 60 "/readyz on https://127.0.0.1:$APISERVER_PORT" apiserver_ready

# ---- cluster objects -----------------------------------------------------------
# Before kube-controller-manager starts: its garbage collector discovers resource
# types at start and then only every 30 s, so a Sandbox CRD created after it would
# leave the pods and claims of the first deleted Sandboxes waiting up to 30 s.
kc apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: openshell-system
  labels:
    pod-security.kubernetes.io/enforce: privileged
    pod-security.kubernetes.io/audit: privileged
    pod-security.kubernetes.io/warn: privileged
---
apiVersion: v1
kind: Namespace
metadata:
  name: agent-sandbox-system
EOF
# A v0.5.x CRD points its conversion webhook at an in-cluster Service; this
# cluster has no Service routing, so point it at the controller's webhook on
# 127.0.0.1 with our CA. Server-side apply, then a JSON patch of clientConfig.
kc apply --server-side --force-conflicts --field-manager=cluster-up -f "$CRD_SRC" >/dev/null
if ((SANDBOX_CONVERSION_WEBHOOK)); then
  kc patch crd sandboxes.agents.x-k8s.io --type=json -p "[{\"op\":\"replace\",\"path\":\"/spec/conversion/webhook/clientConfig\",\"value\":{\"url\":\"https://127.0.0.1:$SANDBOX_WEBHOOK_PORT/convert\",\"caBundle\":\"$(base64 -w0 < "$PKI/ca.crt")\"}}]" >/dev/null
fi
wait_for kube-apiserver 30 "CRD sandboxes.agents.x-k8s.io Established and agents.x-k8s.io/v1beta1 in discovery" \
  crd_established sandboxes.agents.x-k8s.io agents.x-k8s.io/v1beta1
apply_storage_class

# Fake nodes (status is allowed on Node create; kwok's node-initialize keeps
# existing capacity/allocatable, so nvidia.com/gpu survives).
node_yaml() { # name extra-capacity-lines extra-labels
  cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $1
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $1
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    type: kwok
$3
status:
  capacity: &res
    cpu: "32"
    memory: 256Gi
    pods: "1000" # contract tests list hundreds of sandboxes
    ephemeral-storage: 1Ti
$2
  allocatable: *res
EOF
}
{
  node_yaml kwok-node-0 "" ""
  echo "---"
  node_yaml kwok-node-gpu '    nvidia.com/gpu: "2"' '    nvidia.com/gpu.present: "true"'
} | kc apply -f - >/dev/null

# ---- kube-controller-manager + kube-scheduler ---------------------------------
kcm_args
start_component kube-controller-manager "${KCM_ARGS[@]}"
SCHED_KCFG="$KCFG_DIR/kube-scheduler.kubeconfig"
# A pod parked as unschedulable (its workspace claim not bound yet) waits for a volume event to be
# tried again; one missed while kube-apiserver restarts (the chaos tier restarts it) would park it
# for the default 5 minutes. Retry parked pods every 5 s instead.
start_component kube-scheduler \
  --kubeconfig="$SCHED_KCFG" --authentication-kubeconfig="$SCHED_KCFG" --authorization-kubeconfig="$SCHED_KCFG" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --cert-dir="$CLUSTER_DIR/scheduler-certs" \
  --pod-max-in-unschedulable-pods-duration=5s \
  --leader-elect=false --v=1

# ---- kwok ----------------------------------------------------------------------
stages="$(printf '%s,' "$CLUSTER_SRC"/kwok/stages/*.yaml)"
start_component kwok \
  --kubeconfig="$KCFG_DIR/kwok.kubeconfig" \
  --config="${stages%,}" \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr="$POD_CIDR" --node-ip=127.0.0.1 \
  --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"

wait_for kube-controller-manager 60 "/healthz on :$KCM_PORT" https_ok "$KCM_PORT"
wait_for kube-scheduler 60 "/healthz on :$SCHEDULER_PORT" https_ok "$SCHEDULER_PORT"
wait_for kwok 60 "nodes kwok-node-0 and kwok-node-gpu Ready (with nvidia.com/gpu=2)" nodes_ready
sa_ready() { kc -n default get sa default && kc -n openshell-system get sa default; }
wait_for kube-controller-manager 60 "default ServiceAccounts created" sa_ready

# ---- agent-sandbox controller ------------------------------------------------
webhook_args=()
((SANDBOX_CONVERSION_WEBHOOK)) && webhook_args=(--enable-webhook=true --manage-webhook-certs=false
  --webhook-port="$SANDBOX_WEBHOOK_PORT" --webhook-cert-dir="$PKI/webhook")
start_component agent-sandbox-controller \
  --kubeconfig="$KCFG_DIR/agent-sandbox-controller.kubeconfig" \
  --leader-elect=false \
  --metrics-bind-address="127.0.0.1:$SANDBOX_METRICS_PORT" \
  --health-probe-bind-address="127.0.0.1:$SANDBOX_HEALTH_PORT" \
  "${webhook_args[@]}"
if ((SANDBOX_CONVERSION_WEBHOOK)); then
  wait_for agent-sandbox-controller 60 "readyz on :$SANDBOX_HEALTH_PORT and webhook TLS on :$SANDBOX_WEBHOOK_PORT" ctrl_ready
  # The conversion path works end to end: a server-side dry-run create of a
  # v1alpha1 Sandbox must be converted to the v1beta1 storage version by the webhook.
  conv_ok() {
    kc create --dry-run=server -o name -f - <<'EOF2'
apiVersion: agents.x-k8s.io/v1alpha1
kind: Sandbox
metadata: {name: conversion-probe, namespace: openshell-system}
spec:
  replicas: 0
  podTemplate: {spec: {containers: [{name: c, image: busybox}]}}
EOF2
  }
  wait_for agent-sandbox-controller 30 "v1alpha1 -> v1beta1 conversion via webhook" conv_ok
else
  wait_for agent-sandbox-controller 60 "readyz on :$SANDBOX_HEALTH_PORT" ctrl_ready
fi

apply_platform
log "cluster up in $((SECONDS - T_START))s: Kubernetes $K8S_VERSION, agent-sandbox $AGENT_SANDBOX_VERSION, apiserver https://127.0.0.1:$APISERVER_PORT"
log "  export KUBECONFIG=$KCFG    (state: $STATE_FILE, logs: $LOGS)"
