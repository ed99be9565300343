#!/usr/bin/env bash
# Writes the platform's admin mTLS identity of STAGE (the one the reconciler Lambda uses, stored
# by the certificate Lambda under /<prefix>/<stage>/tls/admin/) into DIR for `gen plan`:
#   admin-tls.sh STAGE DIR [PREFIX]   -> DIR/key.pem, DIR/certificate.pem, DIR/chain.pem (mode 600)
# The values go to files only, never to the log. Needs the AWS CLI and credentials that may read
# those three parameters (and decrypt them with the stage's KMS key).
set -euo pipefail
stage=${1:?stage}
dir=${2:?directory}
prefix=${3:-kafka}
umask 077
mkdir -p "$dir"
read_parameter() {
    aws ssm get-parameter --with-decryption --name "/$prefix/$stage/tls/admin/$1" \
        --query Parameter.Value --output text >"$dir/$2"
}
read_parameter private-key key.pem
read_parameter certificate certificate.pem
read_parameter chain chain.pem
