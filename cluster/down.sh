#!/usr/bin/env bash
# Stop the processes cluster/up.sh started (by the pids in state.env, only if
# each pid still runs our binary). Leaves logs, PKI and state for inspection.
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
log "cluster down (logs kept in $LOGS)"
