# shellcheck shell=bash
# shellcheck disable=SC2154 # TLS_CHAIN comes from the task's secrets, AWS_* from ECS
set -eu
umask 077
case "${GRANT_ID:-}" in
  '' | *[!a-z0-9.-]*) echo "GRANT_ID (the grant id, a container override) is missing or malformed" >&2; exit 1 ;;
esac
d=/tmp/debug
mkdir -p "$d"
printf '%s\n' "$TLS_CHAIN" > "$d/ca.pem"
unset TLS_CHAIN
field() { printf '%s' "$2" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
creds="$(curl -sf "http://169.254.170.2${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}")"
answer="$({
  printf 'user = "%s:%s"\n' "$(field AccessKeyId "$creds")" "$(field SecretAccessKey "$creds")"
  printf 'header = "x-amz-security-token: %s"\n' "$(field Token "$creds")"
} | curl -sf -K - --aws-sigv4 "aws:amz:@REGION@:ssm" \
  -H 'X-Amz-Target: AmazonSSM.GetParameter' -H 'Content-Type: application/x-amz-json-1.1' \
  --data "{\"Name\":\"@DEBUG_TREE@/$GRANT_ID/credential\",\"WithDecryption\":true}" \
  "https://ssm.@REGION@.amazonaws.com/")" || {
  echo "cannot read the credential of grant $GRANT_ID (expired or revoked?)" >&2
  exit 1
}
unset creds
password="$(field Value "$answer")"
unset answer
{
  echo "bootstrap.servers=@BOOTSTRAP@"
  echo "security.protocol=SASL_SSL"
  echo "sasl.mechanism=SCRAM-SHA-512"
  printf 'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="debug.%s" password="%s";\n' "$GRANT_ID" "$password"
  echo "ssl.truststore.type=PEM"
  echo "ssl.truststore.location=$d/ca.pem"
} > "$d/client.properties"
unset password
echo "grant $GRANT_ID: $d/client.properties written; attach with ECS Exec (gen access shell)"
exec sleep "${SLEEP_SECONDS:-3600}"
