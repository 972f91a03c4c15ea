#!/usr/bin/env bash
# Build the local control plane binaries from the pinned Go wrapper modules in
# cluster/gomod/: Kubernetes (with etcd and kwok) into .cache/cluster/<k8s-version>/bin and the
# agent-sandbox controller into .cache/cluster/agent-sandbox-<version>/bin, so every supported pair
# (K8S_VERSION, AGENT_SANDBOX_VERSION from the environment; defaults in versions.env) shares them.
# Idempotent: a binary is rebuilt only when it is missing or its module's go.mod/go.sum or this
# script changed. No build date is stamped in, so builds are reproducible.
# Needs: Go >= 1.26 and access to the Go module proxy (or a warm module cache).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

# Go is only needed when something must be (re)built; then its absence is fatal.
need_go() {
  [[ -n "${_GO_OK:-}" ]] && return 0
  if ! command -v go >/dev/null 2>&1; then
    echo "FATAL: cluster-build needs the Go toolchain (>= 1.26) on PATH to build the control plane," >&2
    echo "       but 'go' was not found. Install Go 1.26+ (https://go.dev/dl/) and retry." >&2
    exit 1
  fi
  local gover
  gover="$(go env GOVERSION | sed 's/^go//')"
  case "$gover" in
    1.2[6-9]*|1.[3-9][0-9]*|[2-9].*) ;;
    *) echo "FATAL: cluster-build needs Go >= 1.26, found go$gover ($(command -v go))" >&2; exit 1 ;;
  esac
  _GO_OK=1
}

BIN="${CLUSTER_BIN:-$root/.cache/cluster/$K8S_VERSION/bin}"
SANDBOX_BIN="${SANDBOX_CONTROLLER_BIN:-$root/.cache/cluster/agent-sandbox-$AGENT_SANDBOX_VERSION/bin}"
mkdir -p "$BIN" "$SANDBOX_BIN"
export CGO_ENABLED=0
# Reproducible: go.mod/go.sum are committed; never let the build rewrite them.
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
PAR="${CLUSTER_BUILD_PAR:-2}"

stamp_of() { # module dir -> hash of everything that pins that module's build (go.mod names the version)
  cat "$1/go.mod" "$1/go.sum" "$here/build.sh" | sha256sum | cut -c1-16
}

# build <module-subdir> <output-dir> <output-name> <package> <ldflags...>
build() {
  local mod="$here/gomod/$1" BIN="$2" out="$3" pkg="$4"; shift 4
  local want; want="$(stamp_of "$mod")"
  if [[ -x "$BIN/$out" && -f "$BIN/.$out.stamp" && "$(cat "$BIN/.$out.stamp")" == "$want" ]]; then
    echo "  $out: up to date"
    return 0
  fi
  need_go
  echo "  $out: building $pkg ..."
  local t0=$SECONDS
  (cd "$mod" && go build -p "$PAR" -trimpath -ldflags "-s -w $*" -o "$BIN/$out.tmp" "$pkg")
  mv -f "$BIN/$out.tmp" "$BIN/$out"
  echo "$want" > "$BIN/.$out.stamp"
  echo "  $out: built in $((SECONDS - t0))s"
}

# go.mod files must pin what versions.env says (regenerate with gomod/update.sh).
check_pin() { # module-dir module version
  [[ -f "$here/gomod/$1/go.mod" ]] ||
    { echo "FATAL: no wrapper module cluster/gomod/$1 for $2 $3 (supported: Kubernetes $SUPPORTED_K8S_VERSIONS, agent-sandbox $SUPPORTED_AGENT_SANDBOX_VERSIONS); add it with K8S_VERSION=$K8S_VERSION AGENT_SANDBOX_VERSION=$AGENT_SANDBOX_VERSION cluster/gomod/update.sh" >&2; exit 1; }
  grep -qE "^\s*(require )?$2 $3( |$)" "$here/gomod/$1/go.mod" ||
    { echo "FATAL: cluster/gomod/$1/go.mod does not pin $2 $3 (versions.env); run cluster/gomod/update.sh" >&2; exit 1; }
}
check_pin "kubernetes/$K8S_VERSION" k8s.io/kubernetes "$K8S_VERSION"
grep -q "k8s.io/api => k8s.io/api $K8S_STAGING_VERSION" "$here/gomod/kubernetes/$K8S_VERSION/go.mod" ||
  { echo "FATAL: staging replaces in cluster/gomod/kubernetes/$K8S_VERSION/go.mod are not $K8S_STAGING_VERSION; run cluster/gomod/update.sh" >&2; exit 1; }
check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
check_pin kwok sigs.k8s.io/kwok "$KWOK_VERSION"
check_pin "agent-sandbox/$AGENT_SANDBOX_VERSION" sigs.k8s.io/agent-sandbox "$AGENT_SANDBOX_VERSION"

echo "cluster-build: Kubernetes $K8S_VERSION binaries in $BIN, agent-sandbox $AGENT_SANDBOX_VERSION in $SANDBOX_BIN"
t_all=$SECONDS
k8s_major="$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
k8s_minor="$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
kver=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kver+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$k8s_major -X $p.gitMinor=$k8s_minor"
  kver+=" -X $p.gitTreeState=clean"
done
# The controller first: it is the smallest, and a new agent-sandbox release needs only it.
build "agent-sandbox/$AGENT_SANDBOX_VERSION" "$SANDBOX_BIN" agent-sandbox-controller \
  sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller \
  "-X sigs.k8s.io/agent-sandbox/internal/version.gitVersion=$AGENT_SANDBOX_VERSION"
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build "kubernetes/$K8S_VERSION" "$BIN" "$c" "k8s.io/kubernetes/cmd/$c" "$kver"
done
build etcd "$BIN" etcd go.etcd.io/etcd/server/v3
build kwok "$BIN" kwok sigs.k8s.io/kwok/cmd/kwok \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
echo "cluster-build: done in $((SECONDS - t_all))s ($(du -sh "$BIN" | cut -f1) + $(du -sh "$SANDBOX_BIN" | cut -f1))"
