#!/usr/bin/env bash
# Builds the contract tier's pinned gRPC clients into .cache/clients/ (test/support/client-matrix.ts):
# - one venv per test/python-clients/grpcio-VERSION.txt, installed with --require-hashes from
#   PyPI wheels only, on Debian's python3 (the interpreter `./dev` guarantees);
# - the grpc-go client in test/go-client, from the Go module proxy, checked against its go.sum.
# Each is keyed by a hash of what pins it (and of the toolchain), so a warm rerun does nothing; a
# marker written last means a half-finished build is redone, never used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=.cache/clients
mkdir -p "$out"
python=/usr/bin/python3


for requirements in test/python-clients/grpcio-*.txt; do
  venv="$out/$(basename "$requirements" .txt)"
  key=$( { cat "$requirements"; "$python" --version; } | sha256sum | cut -c1-16)
  [[ -f $venv/.pinned && $(<"$venv/.pinned") == "$key" ]] && continue
  echo "client-matrix: installing $(basename "$requirements" .txt) into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --require-hashes --only-binary=:all: --no-deps -r "$requirements"
  echo "$key" >"$venv/.pinned"
done

go_out="$out/go-client"
key=$( { cat test/go-client/go.mod test/go-client/go.sum test/go-client/*.go; go version; } | sha256sum | cut -c1-16)
if [[ ! -f $go_out/.pinned || $(<"$go_out/.pinned") != "$key" ]]; then
  echo "client-matrix: building test/go-client into $go_out" >&2
  rm -rf "$go_out"
  mkdir -p "$go_out"
  # -mod=readonly: a module missing from go.sum fails the build instead of being added.
  (cd test/go-client && GOFLAGS=-mod=readonly go build -trimpath -o "../../$go_out/go-client" .)
  echo "$key" >"$go_out/.pinned"
fi
