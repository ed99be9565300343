# shellcheck shell=bash
# shellcheck disable=SC2154 # TLS_* come from the task's secrets
set -eu
umask 077
@PEM_SETTING_FUNCTION@
# shellcheck disable=SC2155 # pem_setting cannot fail; set -e has nothing to catch
export KAFKA_SSL_KEYSTORE_KEY="$(pem_setting "$TLS_PRIVATE_KEY")"
# shellcheck disable=SC2155 # as above
export KAFKA_SSL_KEYSTORE_CERTIFICATE_CHAIN="$(pem_setting "$TLS_CERTIFICATE
$TLS_CHAIN")"
# shellcheck disable=SC2155 # as above
export KAFKA_SSL_TRUSTSTORE_CERTIFICATES="$(pem_setting "${TLS_TRUST:-$TLS_CHAIN}")"
unset TLS_PRIVATE_KEY TLS_CERTIFICATE TLS_CHAIN TLS_TRUST
@FORMAT_STORAGE_FUNCTION@
/etc/confluent/docker/configure
format_storage /etc/kafka/kafka.properties
unset ADMIN_SCRAM_PASSWORD
@METRICS_STEP@
exec /etc/confluent/docker/run
