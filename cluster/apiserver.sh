#!/usr/bin/env bash
# Simulate an API server outage: stop/start kube-apiserver only, restarting it
# on the SAME port with the same flags (recorded by up.sh in .cache/cluster/args/).
# Usage: cluster/apiserver.sh stop|start|restart|status
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cluster_lock
[[ -f "$STATE_FILE" ]] || die "cluster not set up ($STATE_FILE missing); run cluster/up.sh"
load_state
running() { pid_matches "${APISERVER_PID:-}" kube-apiserver; }
case "${1:-}" in
  stop)
    # kube-apiserver stops listening at once on TERM but keeps serving open
    # watches while it drains (up to a minute); KILL after a short grace so
    # every open connection drops like in a real outage.
    if running; then stop_component kube-apiserver "${APISERVER_STOP_GRACE_SECONDS:-2}"; else log "kube-apiserver already stopped"; fi
    ;;
  start)
    if running; then
      log "kube-apiserver already running (pid $APISERVER_PID)"
    else
      if port_in_use "$APISERVER_PORT"; then
        # Give a just-stopped server's socket a moment to go away.
        for _ in $(seq 50); do port_in_use "$APISERVER_PORT" || break; sleep 0.1; done
        port_in_use "$APISERVER_PORT" && die "port $APISERVER_PORT is taken by another process"
      fi
      restart_component kube-apiserver
    fi
    wait_for kube-apiserver 60 "/readyz on https://127.0.0.1:$APISERVER_PORT" apiserver_ready
    log "kube-apiserver ready on https://127.0.0.1:$APISERVER_PORT"
    ;;
  restart) bash "${BASH_SOURCE[0]}" stop && bash "${BASH_SOURCE[0]}" start ;;
  status)
    if running && apiserver_ready; then echo "running (pid $APISERVER_PID, port $APISERVER_PORT, ready)";
    elif running; then echo "running (pid $APISERVER_PID, port $APISERVER_PORT, not ready)"; exit 1;
    else echo "stopped (port $APISERVER_PORT)"; exit 3; fi
    ;;
  *) echo "usage: $0 stop|start|restart|status" >&2; exit 2 ;;
esac
