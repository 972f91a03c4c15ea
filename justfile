# openshell-driver-k8s — every task the README mentions runs through here.
set shell := ["bash", "-euo", "pipefail", "-c"]

export PATH := justfile_directory() + "/node_modules/.bin:" + env_var('PATH')

bin := "dist/openshell-driver-k8s"

default:
    @just --list

# Install pinned npm dependencies from bun.lock.
install:
    bun install --frozen-lockfile

# Regenerate protobuf code from proto/ into src/gen/.
gen:
    buf generate

typecheck:
    tsc --noEmit -p .

# Compile the single-file release binary.
build:
    bun build --compile --minify --sourcemap --bytecode --format=esm src/main.ts --outfile {{bin}}

# Every test tier: unit, Kubernetes edge, contract, e2e and chaos (builds the binary and the control plane first).
test: build cluster-up client-matrix
    bun test --timeout 180000

# Pure tiers only: no cluster, no binary.
test-unit:
    bun test test/unit test/kube

# The compiled binary over a real socket, with every gRPC client of the client matrix.
test-contract: build cluster-up client-matrix
    bun test --timeout 180000 test/contract

# The driver against the local control plane.
test-e2e: build cluster-up
    bun test --timeout 180000 test/e2e

# Tenant guardrails: each multi-tenancy hole tried through the socket (request policy, workspace walls, managed admission), and the request-policy fuzz.
test-tenant: build cluster-up
    bun test --timeout 180000 test/tenant

# The e2e tier on the other supported Kubernetes/agent-sandbox pairs, each in its own control plane (default cells: v1.30.14/v0.5.6 v1.33.13/v1.0.1; `all` = all six). Builds each version once, ~20 min cold.
test-matrix *cells: build
    bash scripts/test-matrix.sh {{cells}}

# Chaos and fuzz: churn across API-server restarts, a frozen API server, etcd compaction, 10,000 generated requests. Restarts the shared API server.
test-chaos: build cluster-up
    bun test --timeout 180000 test/chaos

# Build what is missing, start the control plane and walk one sandbox through its lifecycle.
demo: build cluster-up
    bash scripts/demo.sh

# Pinned gRPC clients for the contract tier's client matrix (grpcio venvs, grpc-go) into .cache/clients; cached.
client-matrix:
    bash scripts/client-matrix.sh

# Build the local control plane (kube-apiserver, etcd, controllers, kwok) from Go modules; cached.
cluster-build:
    bash cluster/build.sh

# Start the local control plane (idempotent; env PLATFORM=openshift|kyma also installs that flavour; K8S_VERSION/AGENT_SANDBOX_VERSION another supported pair, in its own directory); admin kubeconfig at .cache/cluster/kubeconfig.
cluster-up: cluster-build
    bash cluster/up.sh

# Make the running control plane look like kubernetes, openshift or kyma (CRDs and platform objects).
cluster-platform name: cluster-up
    bash cluster/platform.sh {{name}}

# Stop only the processes cluster-up started.
cluster-down:
    bash cluster/down.sh

# Smoke-test the local control plane end to end with kubectl (starts it if needed).
cluster-smoke: cluster-up
    bash cluster/smoke.sh

# Stop/start kube-apiserver only (same port, same flags) to simulate an outage.
cluster-apiserver action:
    bash cluster/apiserver.sh {{action}}

# Least-privilege kubeconfig (bearer token) for a ServiceAccount bound by an RBAC manifest.
cluster-driver-kubeconfig sa rbac out:
    bash cluster/driver-kubeconfig.sh {{sa}} {{rbac}} {{out}}

# Speed and memory figures → BENCHMARKS.md.
bench: build
    bun run bench/run.ts

# The compiled driver on the local control plane with N sandboxes: start → served, Get/List/Watch under load (Connect and python grpcio), create vs raw POST, RSS; cleans up. Holds the shared cluster lock.
bench-cluster n="1000": build cluster-up
    flock /tmp/osdrv-e2e.lock bun run bench/real-cluster.ts {{n}}

# What the driver's idle RSS is made of: compiled executables adding one import at a time, and the driver with and without --smol.
bench-idle:
    bun run bench/idle-footprint.ts

# The compiled driver on the local control plane under steady churn for DURATION (90s, 5m, 1h): ≤ SOAK_POOL (16) sandboxes cycling create → stop → start → delete, Gets, Lists, 8 watches (one reconnecting every minute); RSS, heap, fds, watch streams and event lag every minute → bench/results/soak.json and BENCHMARKS.md. Not part of `just test`.
soak duration: build cluster-up
    bun run bench/soak.ts {{duration}}

# Run the project's pinned Helm (helm.sh/helm/v4, built once from the Go module proxy into .cache/helm): `just helm version`.
[positional-arguments]
helm *args:
    bash scripts/helm.sh "$@"

# helm lint --strict the chart with each profile's values (deploy/helm/openshell-driver-k8s/ci/).
chart-lint:
    for values in deploy/helm/openshell-driver-k8s/ci/*-values.yaml; do bash scripts/helm.sh lint --strict deploy/helm/openshell-driver-k8s -f "$values" --set crdCheck=false; done

# Rewrite driver.flags in the chart's values.yaml and values.schema.json from src/config/flags.ts.
chart-flags:
    bun scripts/gen-chart-flags.ts

# Regenerate deploy/rbac*.yaml and deploy/openshift/sandbox-scc.yaml from the chart.
rbac-gen:
    bash scripts/gen-rbac.sh
