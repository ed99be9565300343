#!/bin/bash
# shellcheck disable=SC2170 # @...@ are placeholders that render::cluster::user_data fills with numbers
set -euo pipefail
# Attach this node's own EBS volume, so that its data survives instance and task replacement.
token=$(curl -sX PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
instance=$(curl -s -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
attempt=0
until aws ec2 attach-volume --region @REGION@ --volume-id @VOLUME@ --instance-id "$instance" --device /dev/xvdf; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge @ATTACH_ATTEMPTS@ ]; then
    echo "kafka node: volume @VOLUME@ not attached after @ATTACH_ATTEMPTS@ attempts; is it still attached elsewhere?" >&2
    exit 1
  fi
  sleep 10
done
check=0
until [ -e /dev/xvdf ] || [ -e /dev/nvme1n1 ]; do
  check=$((check + 1))
  if [ "$check" -ge @DEVICE_CHECKS@ ]; then
    echo "kafka node: volume @VOLUME@ attached but no device appeared" >&2
    exit 1
  fi
  sleep 2
done
device=$( [ -e /dev/nvme1n1 ] && echo /dev/nvme1n1 || echo /dev/xvdf )
blkid "$device" || mkfs.xfs "$device"
mkdir -p @HOST_DATA_DIR@
mount "$device" @HOST_DATA_DIR@
chown 1000:1000 @HOST_DATA_DIR@
@METRICS_STEP@
cat >> /etc/ecs/ecs.config <<EOF
ECS_CLUSTER=@CLUSTER@
ECS_INSTANCE_ATTRIBUTES={"kafka.node":"@NODE@"}
EOF
