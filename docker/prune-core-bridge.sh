#!/bin/sh
# Temporal's native Core bridge ships a build for every platform it supports (5, ~28 MiB each);
# a Linux image runs one. Keeps the build for this machine's architecture and removes the others.
# Run from the directory holding node_modules, after `npm ci --omit=dev` (the Dockerfile's deps
# stage, and test/shipped/production-build.test.ts on the same layout).
set -eu
releases=node_modules/@temporalio/core-bridge/releases
case "$(uname -m)" in
  x86_64) keep=x86_64-unknown-linux-gnu ;;
  aarch64 | arm64) keep=aarch64-unknown-linux-gnu ;;
  *) echo "prune-core-bridge: no Core bridge build for $(uname -m); nothing removed" >&2; exit 0 ;;
esac
[ -d "$releases/$keep" ] || { echo "prune-core-bridge: $releases/$keep missing; nothing removed" >&2; exit 0; }
for dir in "$releases"/*; do
  [ "$(basename "$dir")" = "$keep" ] || rm -rf "$dir"
done
