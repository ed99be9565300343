# shellcheck shell=sh
# shellcheck disable=SC2154 # TLS_* and *_PASSWORD come from the task's secrets
# The Schema Registry's proxy (render::registry_proxy): writes its TLS material, its user file and
# its nginx configuration into a directory of its own, drops the secrets from the environment and
# runs nginx in the foreground.
set -eu
umask 077
d=@STATE_DIR@
mkdir -p "$d"
printf '%s\n%s\n' "$TLS_CERTIFICATE" "$TLS_CHAIN" > "$d/server.pem"
printf '%s\n' "$TLS_PRIVATE_KEY" > "$d/server.key"
printf '%s\n' "$TLS_CHAIN" > "$d/ca.pem"
# printf is a shell builtin: the passwords reach no command line.
printf '%s:{PLAIN}%s\n%s:{PLAIN}%s\n' @WRITER@ "$WRITER_PASSWORD" @READER@ "$READER_PASSWORD" > "$d/users"
unset TLS_PRIVATE_KEY TLS_CERTIFICATE TLS_CHAIN WRITER_PASSWORD READER_PASSWORD
cat > "$d/nginx.conf" <<'NGINX'
@NGINX_CONF@
NGINX
exec nginx -e stderr -c "$d/nginx.conf"
