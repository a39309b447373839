#!/usr/bin/env bash
# Builds the Go client for the client tests (github.com/hashicorp/vault/api's LifetimeWatcher,
# pinned in test/clients/go/go.mod and go.sum) into .cache/go-clients. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/.cache/go-clients/lifetime-watcher"
mkdir -p "$(dirname "$out")"
(cd test/clients/go && go build -mod=readonly -o "$out" . >&2)
echo "$out"
