#!/usr/bin/env bash
# Make the running local control plane look like plain Kubernetes, OpenShift or Kyma, as far as
# an API client can tell: the CRDs each platform serves and the objects the driver reads there.
# Nothing enforces them (no SCC admission, no Istio); they exist for platform detection and for
# creating the objects the driver would create on that platform.
#   bash cluster/platform.sh kubernetes|openshift|kyma
# Idempotent. Installing one flavour removes the other's objects and CRDs; `kubernetes` removes
# both and waits until their API groups are gone from discovery. The flavour is recorded as
# CLUSTER_PLATFORM in state.env (a fresh `up` writes a new state.env: plain Kubernetes again).
# Env: PLATFORM_CRDS (default ../shared/crds), PLATFORM_WAIT_SECONDS (default 150) bounds each wait:
# the API server's CRD finalizer waits up to a minute for a CRD's objects to go before it tries
# again, so a removal can take a little over one such round.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLAVOUR="${1:-}"
case "$FLAVOUR" in
  kubernetes | openshift | kyma) ;;
  *) die "usage: bash cluster/platform.sh kubernetes|openshift|kyma (got '${FLAVOUR}')" ;;
esac
cluster_lock
load_state
[[ -n "${APISERVER_PORT:-}" ]] && apiserver_ready || die "the local cluster is not up: run 'just cluster-up' first"

CRDS="${PLATFORM_CRDS:-$REPO_ROOT/../shared/crds}"
WAIT_SECONDS="${PLATFORM_WAIT_SECONDS:-150}"
SANDBOX_SCC="$REPO_ROOT/deploy/openshift/sandbox-scc.yaml"
T_START=$SECONDS

# CRD file → the CRD's name, per flavour.
declare -A OPENSHIFT_CRDS=(
  [security.openshift.io_securitycontextconstraints.yaml]=securitycontextconstraints.security.openshift.io
  [route.openshift.io_routes.yaml]=routes.route.openshift.io
  [config.openshift.io_clusterversions.yaml]=clusterversions.config.openshift.io
)
declare -A KYMA_CRDS=(
  [gateway.kyma-project.io_apirules.yaml]=apirules.gateway.kyma-project.io
  [networking.istio.io_gateways.yaml]=gateways.networking.istio.io
  [networking.istio.io_virtualservices.yaml]=virtualservices.networking.istio.io
)
# What a real OpenShift puts on every namespace: SCC admission takes the pod's uid, fsGroup and
# SELinux level from them.
SCC_ANNOTATIONS=(
  openshift.io/sa.scc.uid-range=1000680000/10000
  openshift.io/sa.scc.supplemental-groups=1000680000/10000
  openshift.io/sa.scc.mcs=s0:c26,c10
)
KYMA_DOMAIN=c-test123.kyma.ondemand.com
KYMA_NAMESPACES=(kyma-system istio-system)

apply() { kc apply --server-side --force-conflicts --field-manager=cluster-platform "$@" >/dev/null; }

# served_groups: the API group names in discovery, one per line.
served_groups() { kc get --raw /apis | grep -o '"name":"[^"]*"' | cut -d'"' -f4; }

# poll SECONDS CMD...: CMD until it succeeds (0), or 1 once SECONDS have passed.
poll() {
  local timeout="$1" deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# wait_until SECONDS WHAT CMD...: poll, or fail naming WHAT.
wait_until() {
  local timeout="$1" what="$2"
  shift 2
  poll "$timeout" "$@" || die "timed out after ${timeout}s waiting for $what"
}

groups_of() { local crd; for crd in "$@"; do echo "${crd#*.}"; done | sort -u; }
all_served() { local served g; served="$(served_groups)"; for g in "$@"; do grep -qx "$g" <<<"$served" || return 1; done; }
none_served() { local served g; served="$(served_groups)"; for g in "$@"; do ! grep -qx "$g" <<<"$served" || return 1; done; }
namespace_absent() { ! kc get namespace "$1" >/dev/null 2>&1; }

crd_is_established() { [[ "$(kc get crd "$1" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" == True ]]; }

# install_crds FILE=NAME...: apply, then wait until established and served.
install_crds() {
  local -n crds="$1"
  local file groups
  for file in "${!crds[@]}"; do
    [[ -f "$CRDS/$file" ]] || die "CRD file $CRDS/$file not found (set PLATFORM_CRDS=...)"
    apply -f "$CRDS/$file"
  done
  # A poll, not `kubectl wait`: kubectl 1.30's wait on a CRD created a moment ago can fail with
  # "not found" before the object is visible to it.
  for file in "${!crds[@]}"; do
    wait_until "$WAIT_SECONDS" "CRD ${crds[$file]} Established" crd_is_established "${crds[$file]}"
  done
  mapfile -t groups < <(groups_of "${crds[@]}")
  wait_until "$WAIT_SECONDS" "API groups ${groups[*]} in discovery" all_served "${groups[@]}"
}

# remove_crds FILE=NAME...: delete (their objects go with them), wait until gone from discovery.
remove_crds() {
  local -n crds="$1"
  local groups
  kc delete crd "${crds[@]}" --ignore-not-found --wait=false >/dev/null
  mapfile -t groups < <(groups_of "${crds[@]}")
  if ! poll "$WAIT_SECONDS" gone_or_nudged "${crds[@]}" -- "${groups[@]}"; then
    describe_crd_removal "${crds[@]}"
    die "timed out after ${WAIT_SECONDS}s waiting for API groups ${groups[*]} gone from discovery"
  fi
}

# gone_or_nudged CRD... -- GROUP...: whether the groups are gone from discovery; if not, touches the
# CRDs still there. A CRD removed just after it was installed meets its storage still
# initializing: the API server's CRD finalizer fails ("storage is (re)initializing") and retries
# with a backoff that doubles each time (past a minute within seconds of failures). An update
# of the CRD queues the finalizer again at once.
NUDGES=0
gone_or_nudged() {
  local crds=() crd
  while [[ "$1" != -- ]]; do crds+=("$1"); shift; done
  shift
  none_served "$@" && return 0
  ((NUDGES++ % 10 == 9)) || return 1
  for crd in "${crds[@]}"; do
    kc annotate --overwrite crd "$crd" "cluster-platform/removal-retry=$NUDGES" >/dev/null 2>&1 || true
  done
  return 1
}

# describe_crd_removal CRD...: what holds a CRD deletion up (its conditions, objects left, finalizers).
describe_crd_removal() {
  local crd
  for crd in "$@"; do
    kc get crd "$crd" >/dev/null 2>&1 || { log "  $crd: deleted"; continue; }
    log "  $crd: $(kc get crd "$crd" -o jsonpath='{.metadata.finalizers} {range .status.conditions[*]}{.type}={.status} ({.reason}: {.message}); {end}')"
    log "  ${crd%%.*} left: $(kc get "$crd" -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} finalizers={.metadata.finalizers}; {end}' 2>&1 | head -c 2000)"
  done
  log "  kube-apiserver log, CRD lines: $(grep -iE 'crd|customresource|finaliz' "$LOGS/kube-apiserver.log" 2>/dev/null | tail -n 15)"
}

# A namespace still terminating from a removal refuses new objects; wait it out first.
wait_not_terminating() {
  local ns
  for ns in "$@"; do
    if [[ "$(kc get namespace "$ns" -o jsonpath='{.status.phase}' 2>/dev/null)" == Terminating ]]; then
      wait_until "$WAIT_SECONDS" "namespace $ns to finish terminating" namespace_absent "$ns"
    fi
  done
}

install_openshift() {
  install_crds OPENSHIFT_CRDS
  apply -f "$CRDS/openshift-default-sccs.yaml"
  if [[ -f "$SANDBOX_SCC" ]]; then
    apply -f "$SANDBOX_SCC"
  else
    log "note: $SANDBOX_SCC does not exist yet; only the default SCCs are installed"
  fi
  apply -f - <<'EOF'
apiVersion: config.openshift.io/v1
kind: ClusterVersion
metadata: {name: version}
spec:
  clusterID: 5f2c8a7e-0d1b-4c6a-9e3f-3a1b2c4d5e6f
  channel: stable-4.16
EOF
  # A JSON patch, not a merge patch: availableUpdates is required and may be null, and a merge
  # patch's null deletes the field. The status subresource ignores status on create.
  kc patch clusterversions.config.openshift.io version --subresource=status --type=json -p '[{"op":"add","path":"/status","value":{
    "desired":{"version":"4.16.3","image":"quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64"},
    "history":[{"state":"Completed","version":"4.16.3","image":"quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64",
      "startedTime":"2026-01-05T10:00:00Z","completionTime":"2026-01-05T10:42:00Z","verified":true}],
    "availableUpdates":null,"observedGeneration":1,"versionHash":"cluster-platform-4.16.3"}}]' >/dev/null
  kc annotate --overwrite namespace openshell-system "${SCC_ANNOTATIONS[@]}" >/dev/null
}

remove_openshift() {
  if [[ -f "$SANDBOX_SCC" ]] && kc get crd securitycontextconstraints.security.openshift.io >/dev/null 2>&1; then
    # Its RBAC objects (if any) outlive the SCC CRD; the SCC itself goes with the CRD.
    kc delete -f "$SANDBOX_SCC" --ignore-not-found --wait=false >/dev/null
  fi
  kc annotate namespace openshell-system "${SCC_ANNOTATIONS[@]/%=*/-}" >/dev/null
  remove_crds OPENSHIFT_CRDS
}

install_kyma() {
  install_crds KYMA_CRDS
  wait_not_terminating "${KYMA_NAMESPACES[@]}"
  apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: kyma-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
# Gardener's description of the shoot; Kyma takes its public domain from data.domain.
apiVersion: v1
kind: ConfigMap
metadata: {name: shoot-info, namespace: kube-system}
data:
  domain: $KYMA_DOMAIN
  shootName: c-test123
  projectName: kyma
  provider: gcp
  region: europe-west1
---
# As Kyma's api-gateway operator renders it (internal/reconciliations/gateway/kyma_gateway.yaml).
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: kyma-gateway, namespace: kyma-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: SIMPLE, credentialName: kyma-gateway-certs}
    hosts: ["*.$KYMA_DOMAIN"]
  - port: {number: 80, name: http, protocol: HTTP}
    tls: {httpsRedirect: true}
    hosts: ["*.$KYMA_DOMAIN"]
EOF
  kc label --overwrite namespace openshell-system pod-security.kubernetes.io/enforce=privileged >/dev/null
}

remove_kyma() {
  kc delete configmap shoot-info -n kube-system --ignore-not-found >/dev/null
  # Namespaces first: their controller deletes the Gateway through the gateways API, which must
  # still be served while it does.
  kc delete namespace "${KYMA_NAMESPACES[@]}" --ignore-not-found --wait=false >/dev/null
  local ns
  for ns in "${KYMA_NAMESPACES[@]}"; do wait_until "$WAIT_SECONDS" "namespace $ns deleted" namespace_absent "$ns"; done
  remove_crds KYMA_CRDS
}

case "$FLAVOUR" in
  kubernetes) remove_openshift; remove_kyma ;;
  openshift) remove_kyma; install_openshift ;;
  kyma) remove_openshift; install_kyma ;;
esac
set_state CLUSTER_PLATFORM "$FLAVOUR"
log "platform flavour $FLAVOUR installed in $((SECONDS - T_START))s"
echo "$FLAVOUR"
