# shellcheck shell=bash
# shellcheck disable=SC2154 # TLS_* come from the task's secrets
# The Confluent Schema Registry container (render::cluster): its key store from the task's secrets,
# and its own task address as host.name, so that a follower forwards writes to the leader's proxy
# (host.port) rather than to the shared service name.
set -eu
umask 077
d=/etc/schema-registry/secrets
mkdir -p $d
printf '%s\n%s\n%s\n' "$TLS_PRIVATE_KEY" "$TLS_CERTIFICATE" "$TLS_CHAIN" > $d/node.pem
printf '%s\n' "$TLS_CHAIN" > $d/ca.pem
unset TLS_PRIVATE_KEY TLS_CERTIFICATE TLS_CHAIN
# ECS task metadata v4 (http://169.254.170.2/v4/ID), read without curl: bash's /dev/tcp.
meta=${ECS_CONTAINER_METADATA_URI_V4:?no ECS task metadata endpoint}
meta=${meta#http://}
exec 3<>"/dev/tcp/${meta%%/*}/80"
printf 'GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n' "${meta#*/}" "${meta%%/*}" >&3
body=$(cat <&3)
exec 3<&-
if [[ ! $body =~ \"IPv4Addresses\":[[:space:]]*\[[[:space:]]*\"([0-9.]+)\" ]]; then
    echo "schema-registry: no task address in the ECS task metadata" >&2
    exit 1
fi
export SCHEMA_REGISTRY_HOST_NAME=${BASH_REMATCH[1]}
exec /etc/confluent/docker/run
