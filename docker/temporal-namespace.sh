#!/bin/sh
# Waits until `temporal operator cluster health` says SERVING, then creates the namespace (an
# existing one is kept) and registers batchflow's search attributes (Temporal refuses a workflow
# that upserts an unknown one). Run by docker-compose.yml's temporal-namespace service (the
# admin-tools image) and by the cluster test (test/cluster).
#
# Reads TEMPORAL_ADDRESS (the CLI's own), TEMPORAL_NAMESPACE, NAMESPACE_RETENTION and TEMPORAL_CLI.
# The attributes are src/temporal/search-attributes.ts's ALL_SEARCH_ATTRIBUTES; the cluster test
# checks the namespace against that list after this script, so the two cannot drift apart.
set -eu
cli=${TEMPORAL_CLI:-temporal}
namespace=${TEMPORAL_NAMESPACE:-batchflow}

n=0
until "$cli" operator cluster health >/dev/null 2>&1; do
  n=$((n + 1))
  if [ "$n" -ge 60 ]; then
    echo "temporal-namespace: Temporal not healthy after 60 tries:" >&2
    "$cli" operator cluster health >&2 || true
    exit 1
  fi
  sleep 2
done
# A node learns of a new namespace when its namespace cache refreshes (seconds), and behind a load
# balancer each request may reach another node: every step is retried until it has taken effect.
n=0
until "$cli" operator namespace describe -n "$namespace" >/dev/null 2>&1; do
  [ "$n" -gt 0 ] || "$cli" operator namespace create -n "$namespace" --retention "${NAMESPACE_RETENTION:-72h}" || true
  n=$((n + 1))
  [ "$n" -lt 60 ] || { echo "temporal-namespace: namespace $namespace not there after 60 tries" >&2; exit 1; }
  sleep 1
done
for sa in TenantId=Keyword BatchStatus=Keyword Priority=Keyword ItemCount=Int FailedCount=Int; do
  name=${sa%%=*}
  n=0
  until "$cli" operator search-attribute list -n "$namespace" 2>/dev/null | grep -qw "$name"; do
    "$cli" operator search-attribute create -n "$namespace" --name "$name" --type "${sa#*=}" >/dev/null 2>&1 || true
    n=$((n + 1))
    [ "$n" -lt 60 ] || { echo "temporal-namespace: search attribute $name not registered after 60 tries" >&2; exit 1; }
    sleep 1
  done
done
echo "temporal-namespace: namespace $namespace has batchflow's search attributes"
