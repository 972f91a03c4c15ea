#!/usr/bin/env bash
# `just demo`: the driver against the local control plane, one sandbox through
# create → ready → stop → start → delete, driven with `openshell-driver-k8s client`.
# Expects `just build` and `just cluster-up` to have run (the just recipe does both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
BIN="$REPO/dist/openshell-driver-k8s"
STATE="$REPO/.cache/cluster/state.env"
[[ -x "$BIN" ]] || { echo "demo: $BIN missing; run 'just build'" >&2; exit 1; }
[[ -f "$STATE" ]] || { echo "demo: no local cluster; run 'just cluster-up'" >&2; exit 1; }
# shellcheck source=/dev/null
source "$STATE"

RUN_DIR="$REPO/.cache/demo"
SOCKET="$RUN_DIR/run/driver.sock"
mkdir -p "$RUN_DIR"
chmod 700 "$RUN_DIR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
client() { "$BIN" client --socket "$SOCKET" "$@"; }

step "Least-privilege identity for the driver (deploy/rbac.yaml)"
bash cluster/driver-kubeconfig.sh openshell-driver deploy/rbac.yaml "$RUN_DIR/driver.kubeconfig"
echo "kubeconfig: $RUN_DIR/driver.kubeconfig (ServiceAccount openshell-system/openshell-driver)"

step "Starting the driver on $SOCKET"
"$BIN" serve --socket "$SOCKET" --kubeconfig "$RUN_DIR/driver.kubeconfig" --gateway-id demo \
  --health-port 0 --health-address 127.0.0.1 --log-format json --log-level info > "$RUN_DIR/driver.log" 2>&1 &
DRIVER_PID=$!
WATCH_PID=""
cleanup() {
  # The watch client first: the driver ends open streams with UNAVAILABLE when it stops.
  [[ -n "$WATCH_PID" ]] && { kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; } || true
  kill -TERM "$DRIVER_PID" 2>/dev/null && wait "$DRIVER_PID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 300); do
  client ListSandboxes >/dev/null 2>&1 && break
  kill -0 "$DRIVER_PID" 2>/dev/null || { cat "$RUN_DIR/driver.log"; exit 1; }
  sleep 0.2
done
client GetCapabilities

step "Watching sandboxes (events are printed as they arrive, prefixed with 'watch>')"
# The binary itself, not the client function, so that $! is the process cleanup stops.
"$BIN" client --socket "$SOCKET" WatchSandboxes > >(sed -u 's/^/watch> /') &
WATCH_PID=$!
sleep 0.5

ID="demo-$(date +%s)"
REQUEST=$(cat <<JSON
{"sandbox": {"id": "$ID", "name": "hello", "workspace": "demo",
  "spec": {"logLevel": "info", "environment": {"GREETING": "hi"},
           "template": {"image": "ghcr.io/nvidia/openshell-community/sandboxes/base:latest"}}}}
JSON
)
ready() {
  client GetSandbox "{\"sandboxId\": \"$ID\"}" 2>/dev/null |
    grep -A1 '"type": "Ready"' | grep -q '"status": "True"'
}
wait_until() {
  local what=$1; shift
  for _ in $(seq 300); do "$@" && { echo "-- $what"; return 0; }; sleep 0.2; done
  echo "demo: timed out waiting for: $what" >&2; exit 1
}

step "ValidateSandboxCreate + CreateSandbox ($ID)"
client ValidateSandboxCreate "$REQUEST"
client CreateSandbox "$REQUEST"
wait_until "sandbox is Ready (pod Running on a kwok node)" ready
client GetSandbox "{\"sandboxId\": \"$ID\"}"

step "StopSandbox (returns once compute is stopped)"
client StopSandbox "{\"sandboxId\": \"$ID\"}"
"$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG" -n openshell-system get pods -l "openshell.ai/sandbox-id=$ID"

step "StartSandbox"
client StartSandbox "{\"sandboxId\": \"$ID\"}"
wait_until "sandbox is Ready again" ready

step "DeleteSandbox"
client DeleteSandbox "{\"sandboxId\": \"$ID\"}"
gone() { ! client GetSandbox "{\"sandboxId\": \"$ID\"}" >/dev/null 2>&1; }
wait_until "sandbox is gone (GetSandbox → NOT_FOUND)" gone
sleep 0.5

step "Done"
cat <<EOF
The control plane is still running. Look around with:
  $BIN_DIR/kubectl --kubeconfig $KUBECONFIG get sandboxes,pods -A
  $BIN_DIR/kubectl --kubeconfig $KUBECONFIG get nodes
Driver log: $RUN_DIR/driver.log
Stop the control plane with: ./dev cluster-down   (or: node_modules/.bin/just cluster-down)
EOF
