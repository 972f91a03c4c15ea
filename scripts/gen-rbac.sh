#!/usr/bin/env bash
# Writes the plain RBAC manifests under deploy/ from the Helm chart, so the chart is their one
# source: each file is `helm template --show-only` of the chart's RBAC templates for one situation
# (workspace mode, platform, exposures), without the chart's labels.
#   bash scripts/gen-rbac.sh [OUT_DIR]     (default: the repository; files land in OUT_DIR/deploy/)
# test/e2e/helm-chart.test.ts regenerates into a temporary directory and fails when the committed
# files differ.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root}"
chart="$root/deploy/helm/openshell-driver-k8s"
helm=(bash "$root/scripts/helm.sh")
bash "$root/scripts/helm.sh" --build-only

# render FILE HEADER TEMPLATES VALUES...: the chart's TEMPLATES (comma-separated) with VALUES
# (--set pairs), in namespace openshell-system, under HEADER. Each template is rendered on its
# own and in the order given, because Helm sorts one render's objects by kind.
render() {
  local file="$1" header="$2" templates="$3" set=() t v
  shift 3
  IFS=, read -r -a names <<<"$templates"
  for v in "$@"; do set+=(--set "$v"); done
  mkdir -p "$(dirname "$out/$file")"
  {
    echo "# Generated from the chart by scripts/gen-rbac.sh; do not edit. Source: deploy/helm/openshell-driver-k8s"
    echo "# (templates ${templates}; values: ${*:-defaults})."
    printf '%s\n' "$header"
    for t in "${names[@]}"; do
      "${helm[@]}" template openshell-driver "$chart" --namespace openshell-system \
        --set crdCheck=false --set chartLabels=false "${set[@]}" --show-only "templates/$t.yaml"
    done |
      # Helm's `# Source:` markers and blank lines go; the first `---` too (the header precedes it).
      awk '/^# Source: / || /^[[:space:]]*$/ { next } !started && /^---$/ { started = 1; next } { started = 1; print }'
  } >"$out/$file.tmp"
  mv -f "$out/$file.tmp" "$out/$file"
}

render deploy/rbac.yaml "\
# Least privilege for openshell-driver-k8s in shared workspace mode. The e2e tests run the driver
# with exactly these rules, so a missing rule fails a test." \
  serviceaccount,rbac-shared

render deploy/rbac-managed.yaml "\
# Least privilege for openshell-driver-k8s in managed workspace mode (--workspace-mode=managed,
# --namespace=openshell-system). The driver creates one namespace per workspace
# (openshell-{gateway-id}-{workspace}) and writes into it, so those rights can only be granted
# cluster-wide; the ValidatingAdmissionPolicy at the end confines every write to namespaces
# labelled openshell.ai/managed-by=openshell (the label the driver puts on the namespaces it
# creates), so the identity cannot touch any other namespace's Secrets or delete it.
# The e2e tests run the driver with exactly these rules, so a missing rule fails a test." \
  serviceaccount,rbac-managed name=openshell-driver-managed driver.flags.workspaceMode=managed

render deploy/rbac-operator.yaml "\
# Least privilege for openshell-driver-k8s in operator workspace mode (--workspace-mode=operator,
# --namespace=openshell-system). The cluster operator creates each workspace's namespace (named
# after the workspace) and, in it, grants the driver the right to run sandboxes there by binding
# the openshell-driver-operator-workspace ClusterRole:
#
#   kubectl create namespace team-a
#   kubectl -n team-a create rolebinding openshell-driver \\
#     --clusterrole=openshell-driver-operator-workspace \\
#     --serviceaccount=openshell-system:openshell-driver-operator
#
# Cluster-wide the driver only reads: namespaces (to check they exist), and its own Sandboxes and
# their pods, which it finds by label in whatever namespace they are.
# The e2e tests run the driver with exactly these rules, so a missing rule fails a test." \
  serviceaccount,rbac-operator name=openshell-driver-operator driver.flags.workspaceMode=operator

render deploy/rbac-openshift.yaml "\
# What openshell-driver-k8s needs on OpenShift beyond deploy/rbac.yaml (apply both), with every
# route exposure (--expose=route, --openshift-oauth-proxy). The e2e tests run the driver on the
# OpenShift flavour of the local control plane with exactly these rules.
# Sandbox pods themselves need \`use\` of the openshell-sandbox SCC: deploy/openshift/sandbox-scc.yaml." \
  rbac-openshift driver.flags.platform=openshift 'rbac.exposeKinds={route}' driver.flags.openshiftOauthProxy=true

render deploy/rbac-kyma.yaml "\
# What openshell-driver-k8s needs on SAP BTP Kyma beyond deploy/rbac.yaml (apply both), with both
# exposures (--expose=apirule|virtualservice). The e2e tests run the driver on the Kyma flavour of
# the local control plane with exactly these rules.
# Every sandbox namespace's Pod Security label is checked against what its pods need." \
  rbac-kyma driver.flags.platform=kyma 'rbac.exposeKinds={apirule,virtualservice}'

render deploy/openshift/sandbox-scc.yaml "\
# The least-privilege SecurityContextConstraints every sandbox pod the driver renders fits, in
# every topology, and the RBAC that lets the sandbox ServiceAccount use it. restricted-v2 refuses
# these pods (root containers, added capabilities, the image volume); \`privileged\` would admit
# them but also host access, privileged containers and any volume. test/unit/shipped-scc.test.ts
# renders every pod variant and checks it fits this file, and that restricted-v2 does not.
#
# Apply with \`kubectl apply --server-side -f\` (or \`oc create -f\`): the SCC CRD requires fields
# that are present but null, which client-side apply drops.
#
# Use is granted by RBAC (\`use\` on this SCC, bound to the ServiceAccount below), never by listing
# users or groups in the SCC. For managed workspaces, bind the same ClusterRole in each workspace
# namespace." \
  openshift-sandbox-scc,openshift-sandbox-scc-use driver.flags.platform=openshift
