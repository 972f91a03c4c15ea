# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Common helpers for cluster/*.sh. Source it; do not execute it.
CLUSTER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CLUSTER_SRC/.." && pwd)"
# shellcheck source=versions.env
source "$CLUSTER_SRC/versions.env"

# cluster_dir_for K8S_VERSION AGENT_SANDBOX_VERSION: where that pair's cluster lives (pki, etcd data,
# logs, state.env). The default pair keeps .cache/cluster; every other pair gets its own directory
# and its own free ports, so it runs beside the default one without touching it.
cluster_dir_for() {
  if [[ "$1" == "$DEFAULT_K8S_VERSION" && "$2" == "$DEFAULT_AGENT_SANDBOX_VERSION" ]]; then
    printf '%s\n' "$REPO_ROOT/.cache/cluster"
  else
    printf '%s\n' "$REPO_ROOT/.cache/cluster-$1-agent-sandbox-$2"
  fi
}
CLUSTER_DIR="${CLUSTER_DIR:-$(cluster_dir_for "$K8S_VERSION" "$AGENT_SANDBOX_VERSION")}"
# Binaries are shared by every cluster directory (build.sh builds them there).
BIN_DIR="${CLUSTER_BIN:-$REPO_ROOT/.cache/cluster/$K8S_VERSION/bin}"
SANDBOX_BIN_DIR="${SANDBOX_CONTROLLER_BIN:-$REPO_ROOT/.cache/cluster/agent-sandbox-$AGENT_SANDBOX_VERSION/bin}"
STATE_FILE="$CLUSTER_DIR/state.env"
PKI="$CLUSTER_DIR/pki"
LOGS="$CLUSTER_DIR/logs"
ARGS_DIR="$CLUSTER_DIR/args"
KCFG="$CLUSTER_DIR/kubeconfig"
KCFG_DIR="$CLUSTER_DIR/kubeconfigs"

# component name -> binary name (order = start order; down.sh stops in reverse)
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok agent-sandbox-controller)
# component name -> PID variable in state.env
pid_var() {
  case "$1" in
    etcd) echo ETCD_PID ;;
    kube-apiserver) echo APISERVER_PID ;;
    kube-controller-manager) echo KCM_PID ;;
    kube-scheduler) echo SCHEDULER_PID ;;
    kwok) echo KWOK_PID ;;
    agent-sandbox-controller) echo SANDBOX_CONTROLLER_PID ;;
    *) echo "unknown component $1" >&2; return 1 ;;
  esac
}

# cluster_lock: serialize up/down/apiserver.sh across concurrent callers
# (e.g. several test files calling cluster-up). Nested calls skip it.
cluster_lock() {
  [[ -n "${CLUSTER_LOCK_HELD:-}" ]] && return 0
  command -v flock >/dev/null || return 0
  mkdir -p "$CLUSTER_DIR"
  exec 9>"$CLUSTER_DIR/.lock"
  flock -w 300 9 || die "could not take $CLUSTER_DIR/.lock within 300s"
  export CLUSTER_LOCK_HELD=1
}

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

kc() { "$BIN_DIR/kubectl" --kubeconfig "$KCFG" "$@"; }

# bin_of COMPONENT: the binary a component runs from (the controller has its own version's directory)
bin_of() {
  if [[ "$1" == agent-sandbox-controller ]]; then printf '%s\n' "$SANDBOX_BIN_DIR/$1"; else printf '%s\n' "$BIN_DIR/$1"; fi
}

# physical_dir DIR: DIR with symlinks resolved (as given when it does not exist)
physical_dir() { (cd "$1" 2>/dev/null && pwd -P) || printf '%s\n' "$1"; }

# state_value KEY: KEY's value in state.env, without touching this shell's variables
state_value() {
  # shellcheck source=/dev/null
  (unset "$1"; source "$STATE_FILE" >/dev/null 2>&1; printf '%s' "${!1:-}")
}

# load_state: read the pids and ports of state.env. Paths are this file's own, never the state's:
# a .cache/cluster copied from another checkout names that checkout's binaries, processes and
# etcd data, so a state.env written for another directory is refused before anything runs. A
# checkout whose .cache is a symlink to another's (a git worktree sharing its control plane) has
# that very cluster directory, so it is that cluster's whichever checkout wrote the state.
load_state() {
  [[ -f "$STATE_FILE" ]] || return 0
  local written_for repo bin_dir="$BIN_DIR" sandbox_bin_dir="$SANDBOX_BIN_DIR" cluster_dir="$CLUSTER_DIR"
  written_for="$(state_value CLUSTER_DIR)"
  repo="$(state_value REPO_DIR)"
  if [[ -z "$written_for" || "$(physical_dir "$written_for")" != "$(physical_dir "$CLUSTER_DIR")" ]]; then
    die "$STATE_FILE was written for the cluster in ${written_for:-an unknown directory} (checkout ${repo:-unknown}), not for $CLUSTER_DIR (checkout $REPO_ROOT).
  It was probably copied from another checkout: its pids, binaries and etcd data are that cluster's, so nothing was started or stopped.
  Stop that cluster from its own checkout if it is running, then delete $STATE_FILE and rerun."
  fi
  SANDBOX_BIN_DIR=""
  # shellcheck source=/dev/null
  source "$STATE_FILE"
  # The recorded pids run the binaries the state names (an older K8S_VERSION's, say); new ones start
  # from ours. A state written before the controller had its own directory names it in BIN_DIR.
  STATE_BIN_DIR="$BIN_DIR"
  STATE_SANDBOX_BIN_DIR="${SANDBOX_BIN_DIR:-$BIN_DIR}"
  BIN_DIR="$bin_dir"
  SANDBOX_BIN_DIR="$sandbox_bin_dir"
  CLUSTER_DIR="$cluster_dir"
}

# set_state KEY VALUE: replace or append KEY=VALUE in state.env
set_state() {
  local k="$1" v="$2" tmp
  touch "$STATE_FILE"
  tmp="$(mktemp "$STATE_FILE.XXXX")"
  grep -v "^$k=" "$STATE_FILE" > "$tmp" || true
  printf '%s=%q\n' "$k" "$v" >> "$tmp"
  mv -f "$tmp" "$STATE_FILE"
  printf -v "$k" '%s' "$v"
}

# pid_matches PID COMPONENT: true if PID is alive and runs COMPONENT from our binaries (or from the
# binary directories the loaded state was written with)
pid_matches() {
  local pid="$1" comp="$2" argv0
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  argv0="$(tr '\0' '\n' < "/proc/$pid/cmdline" | head -n1)"
  [[ "$argv0" == "$(bin_of "$comp")" || "$argv0" == "${STATE_BIN_DIR:-$BIN_DIR}/$comp" ]] && return 0
  [[ "$comp" == agent-sandbox-controller && "$argv0" == "${STATE_SANDBOX_BIN_DIR:-$SANDBOX_BIN_DIR}/$comp" ]]
}

component_pid() { local v; v="$(pid_var "$1")"; echo "${!v:-}"; }

tail_log() {
  local f="$LOGS/$1.log"
  if [[ -f "$f" ]]; then
    echo "----- last 40 lines of $f -----" >&2
    tail -n 40 "$f" >&2
    echo "----- end of $1 log -----" >&2
  fi
}

# start_component NAME ARGS... : launch $BIN_DIR/NAME detached, record args + pid
start_component() {
  local name="$1"; shift
  mkdir -p "$LOGS" "$ARGS_DIR"
  printf '%s\n' "$@" > "$ARGS_DIR/$name.args"
  echo "=== $(date -u +%FT%TZ) starting $name" >> "$LOGS/$name.log"
  # setsid: own session, survives the invoking shell; stdin from /dev/null.
  # 9>&-: do not leak the cluster lock fd into long-running daemons.
  setsid "$(bin_of "$name")" "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null 9>&- &
  local pid=$!
  wait_exec "$name" "$pid"
  set_state "$(pid_var "$name")" "$pid"
  log "started $name (pid $pid)"
}

# pid_alive PID: true while PID exists and is not a zombie (an exited child not yet reaped).
pid_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# wait_exec NAME PID: return once PID runs $BIN_DIR/NAME. $! is the forked shell, which execs
# setsid, which execs the binary, all in that one pid (a background job of a non-interactive shell
# is no process-group leader, so setsid does not fork). Until the last exec, /proc/PID/cmdline names
# bash or setsid, so pid_matches, which wait_for and stop_component rely on, would read a process
# about to serve as one that exited ("exited while waiting for /readyz"). Dies with the log tail
# if PID exits first, or has not exec'd within 30 s (a machine too loaded to fork and exec).
wait_exec() {
  local name="$1" pid="$2" i status=0
  for ((i = 0; i < 300; i++)); do
    pid_matches "$pid" "$name" && return 0
    if ! pid_alive "$pid"; then
      wait "$pid" 2>/dev/null || status=$?
      tail_log "$name"
      die "$name (pid $pid) exited with status $status as it started (log: $LOGS/$name.log)"
    fi
    sleep 0.1
  done
  tail_log "$name"
  die "$name (pid $pid) was not running $BIN_DIR/$name 30s after it was started (log: $LOGS/$name.log)"
}

# restart_component NAME: start again with exactly the recorded args
restart_component() {
  local name="$1" args=()
  [[ -f "$ARGS_DIR/$name.args" ]] || die "no recorded args for $name ($ARGS_DIR/$name.args); run cluster/up.sh"
  mapfile -t args < "$ARGS_DIR/$name.args"
  start_component "$name" "${args[@]}"
}

# stop_component NAME [GRACE_SECONDS]: TERM the recorded pid if it is ours,
# wait up to GRACE_SECONDS (default 10), then KILL.
stop_component() {
  local name="$1" grace="${2:-10}" pid
  pid="$(component_pid "$name")"
  if [[ -z "$pid" ]]; then return 0; fi
  if ! pid_matches "$pid" "$name"; then
    log "$name: pid $pid is not running (or is not ours); skipping"
    set_state "$(pid_var "$name")" ""
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < grace * 10; i++)); do
    pid_matches "$pid" "$name" || break
    sleep 0.1
  done
  if pid_matches "$pid" "$name"; then
    log "$name (pid $pid) did not exit ${grace}s after TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do pid_matches "$pid" "$name" || break; sleep 0.1; done
  fi
  set_state "$(pid_var "$name")" ""
  log "stopped $name (pid $pid)"
}

# wait_for NAME TIMEOUT_SECONDS DESCRIPTION CMD... : poll CMD until success.
# Fails fast (with the log tail) if the component's process died.
wait_for() {
  local name="$1" timeout="$2" what="$3"; shift 3
  local deadline=$((SECONDS + timeout)) pid
  pid="$(component_pid "$name" 2>/dev/null || true)"
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "$pid" ]] && ! pid_matches "$pid" "$name"; then
      tail_log "$name"
      die "$name exited while waiting for: $what (log: $LOGS/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail_log "$name"
      die "timed out after ${timeout}s waiting for $name: $what (log: $LOGS/$name.log)"
    fi
    sleep 0.2
  done
}

port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# pick_port VAR: keep VAR's previous value if that port is free, else choose a
# free port in 20000-32767 (below the kernel's ephemeral range) not already taken.
_PICKED=" "
pick_port() {
  local var="$1" p="${!1:-}" i
  if [[ -n "$p" && "$_PICKED" != *" $p "* ]] && ! port_in_use "$p"; then
    _PICKED+="$p "
    return 0
  fi
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + RANDOM % 12768))
    [[ "$_PICKED" == *" $p "* ]] && continue
    port_in_use "$p" && continue
    _PICKED+="$p "
    printf -v "$var" '%s' "$p"
    return 0
  done
  die "could not find a free port for $var"
}

require_bins() {
  local b
  for b in "${COMPONENTS[@]}" kubectl; do
    [[ -x "$(bin_of "$b")" ]] || die "missing $(bin_of "$b") — run 'K8S_VERSION=$K8S_VERSION AGENT_SANDBOX_VERSION=$AGENT_SANDBOX_VERSION just cluster-build' (bash cluster/build.sh) first"
  done
}

apiserver_ready() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null
}

https_ok() { curl -skf --max-time 2 "https://127.0.0.1:$1/healthz" >/dev/null; }

nodes_ready() {
  local n
  for n in kwok-node-0 kwok-node-gpu; do
    [[ "$(kc get node "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]] || return 1
  done
  [[ "$(kc get node kwok-node-gpu -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')" == 2 ]]
}

# The agent-sandbox controller is ready and, when it serves one, its conversion webhook answers TLS.
ctrl_ready() {
  curl -sf --max-time 2 "http://127.0.0.1:$SANDBOX_HEALTH_PORT/readyz" >/dev/null || return 1
  [[ "${SANDBOX_CONVERSION_WEBHOOK:-}" != 1 ]] ||
    curl -s --max-time 2 --cacert "$PKI/ca.crt" -o /dev/null "https://127.0.0.1:$SANDBOX_WEBHOOK_PORT/"
}

# controller_has_webhook: the controller binary serves the v1alpha1 <-> v1beta1 conversion webhook
# (agent-sandbox v0.5.x has --enable-webhook; v1.0 dropped v1alpha1 and the webhook with it).
# The help text is read whole first: piped into `grep -q`, which exits at the first match, the
# controller could die of SIGPIPE mid-write and, under pipefail, fail the check it passed.
controller_has_webhook() {
  local help
  help="$("$(bin_of agent-sandbox-controller)" --help 2>&1 || true)"
  grep -q -- '-enable-webhook' <<<"$help"
}

# crd_uses_webhook FILE: the Sandbox CRD asks the API server to convert through a webhook.
crd_uses_webhook() { grep -qE '^\s+strategy:\s*Webhook' "$1"; }

# crd_established NAME GROUP/VERSION: Established=True and the version in discovery. A poll, not
# `kubectl wait`: kubectl 1.30's wait on a CRD created a moment ago can fail with "not found"
# before the object is visible to it, where a poll simply tries again.
crd_established() {
  [[ "$(kc get crd "$1" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" == True ]] &&
    kc get --raw "/apis/$2" >/dev/null
}

# kube-controller-manager's hostpath provisioner puts every volume in
# /tmp/hostpath_pv/<uuid> (fixed in Kubernetes, shared by any such KCM on this
# host). Ours are exactly the paths our etcd ever stored in a PersistentVolume:
# the etcd data (db and WAL) holds them as plain strings, even after a crash.
HOSTPATH_PV_ROOT=/tmp/hostpath_pv
HOSTPATH_PV_PATTERN="$HOSTPATH_PV_ROOT/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# remove_hostpath_dirs: delete this cluster's volume directories (call with KCM stopped
# or about to lose its data, so it cannot provision another meanwhile).
remove_hostpath_dirs() {
  [[ -d "$CLUSTER_DIR/etcd-data" ]] || return 0
  local dir removed=0
  while read -r dir; do
    [[ -e "$dir" ]] || continue
    rm -rf -- "$dir"
    removed=$((removed + 1))
  done < <(grep -rhaoE "$HOSTPATH_PV_PATTERN" "$CLUSTER_DIR/etcd-data" | sort -u)
  rmdir "$HOSTPATH_PV_ROOT" 2>/dev/null || true # only when nobody else's volumes remain
  ((removed == 0)) || log "removed $removed hostpath volume directories under $HOSTPATH_PV_ROOT"
}
