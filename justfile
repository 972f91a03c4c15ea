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
    bun build --compile --minify --sourcemap src/main.ts --outfile {{bin}}

# Build the local control plane (kube-apiserver, etcd, controllers, kwok) from Go modules; cached.
cluster-build:
    bash cluster/build.sh

# Start the local control plane (idempotent); admin kubeconfig at .cache/cluster/kubeconfig.
cluster-up: cluster-build
    bash cluster/up.sh

# Stop only the processes cluster-up started.
cluster-down:
    bash cluster/down.sh
