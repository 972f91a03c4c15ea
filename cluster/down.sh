#!/usr/bin/env bash
# Stop the processes cluster/up.sh started (by the pids in state.env, only if
# each pid still runs our binary), then delete the directories of this cluster's
# hostpath volumes (kept with CLUSTER_KEEP_DATA=1, for an `up` that keeps the
# etcd data too). Leaves logs, PKI, etcd data and state for inspection.
# Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_lock
if [[ ! -f "$STATE_FILE" ]]; then
  log "no $STATE_FILE; nothing to stop"
  exit 0
fi
load_state
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_component "${COMPONENTS[$i]}"
done
if [[ "${CLUSTER_KEEP_DATA:-0}" != 1 ]]; then remove_hostpath_dirs; fi
log "cluster down (logs kept in $LOGS)"
