#!/usr/bin/env bash
# Restart the controllers of the local control plane (kube-controller-manager, kube-scheduler, kwok,
# the agent-sandbox controller) with their recorded flags; etcd, kube-apiserver and every object stay.
# Why: each client-go list/watch loop doubles its wait after every failed attempt, up to ~60 s with
# jitter, and forgets its failures only after two quiet minutes. After the chaos tier restarts
# kube-apiserver several times in a row, a new sandbox waits for one such loop per hop (controller,
# volume binding, scheduler, kwok): minutes, in which the next test would find a half-recovered cluster.
# Usage: cluster/controllers.sh restart
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_lock
[[ -f "$STATE_FILE" ]] || die "cluster not set up ($STATE_FILE missing); run cluster/up.sh"
load_state
CONTROLLERS=(kube-controller-manager kube-scheduler kwok agent-sandbox-controller)
case "${1:-}" in
  restart)
    apiserver_ready || die "kube-apiserver is not ready; start it first (cluster/apiserver.sh start)"
    for c in "${CONTROLLERS[@]}"; do stop_component "$c"; done
    # A new kwok is another lease holder: it would wait for the leases its predecessor held to
    # expire (~20 s) before it plays any pod. The nodes stay Ready well past this gap.
    kc -n kube-node-lease delete lease kwok-node-0 kwok-node-gpu --ignore-not-found >/dev/null
    for c in "${CONTROLLERS[@]}"; do restart_component "$c"; done
    wait_for kube-controller-manager 60 "/healthz on :$KCM_PORT" https_ok "$KCM_PORT"
    wait_for kube-scheduler 60 "/healthz on :$SCHEDULER_PORT" https_ok "$SCHEDULER_PORT"
    wait_for kwok 60 "nodes kwok-node-0 and kwok-node-gpu Ready" nodes_ready
    wait_for agent-sandbox-controller 60 "readyz on :$SANDBOX_HEALTH_PORT (and webhook TLS on :$SANDBOX_WEBHOOK_PORT when it serves one)" ctrl_ready
    log "controllers restarted"
    ;;
  *) echo "usage: $0 restart" >&2; exit 2 ;;
esac
