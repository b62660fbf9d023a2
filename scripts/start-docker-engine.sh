#!/usr/bin/env bash
# Starts a local Docker engine for the docker-backend tests, unless one answers already.
# Containers get the host network only (--bridge=none --iptables=false): nothing is routed
# off the machine. Fails when the engine does not come up.
set -euo pipefail
log=${DOCKERD_LOG:-/tmp/lampion-dockerd.log}

if docker info >/dev/null 2>&1; then
    exit 0
fi
nohup dockerd --bridge=none --iptables=false --ip6tables=false >"$log" 2>&1 &
for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then
        echo "Docker engine $(docker info --format '{{.ServerVersion}}') started"
        exit 0
    fi
    sleep 0.5
done
echo "the Docker engine did not start; its log:" >&2
tail -n 30 "$log" >&2
exit 1
