# shellcheck shell=bash
# shellcheck disable=SC2154 # CLUSTER_ID and KAFKA_PROCESS_ROLES come from the node's environment
format_storage() {
  if [ -z "${ADMIN_SCRAM_PASSWORD:-}" ]; then
    case ",$KAFKA_PROCESS_ROLES," in
      *,controller,*) echo "launcher: ADMIN_SCRAM_PASSWORD is not set; a controller formats its storage with the admin credential" >&2; return 1 ;;
    esac
    return 0
  fi
  case $ADMIN_SCRAM_PASSWORD in
    *,*) echo "launcher: the admin password contains ',', which kafka-storage cannot take; regenerate it without ','" >&2; return 1 ;;
  esac
  local out status=0
  out=$(KAFKA_HEAP_OPTS=-Xmx256m kafka-run-class @<(printf "kafka.tools.StorageTool format --ignore-formatted --cluster-id '%s' --config '%s' --add-scram 'SCRAM-SHA-512=[name=admin,password=%s]'\n" "$CLUSTER_ID" "$1" "$ADMIN_SCRAM_PASSWORD") 2>&1) || status=$?
  out=${out//"$ADMIN_SCRAM_PASSWORD"/[redacted]}
  if [ "$status" -eq 0 ]; then
    printf '%s\n' "$out" | grep -e '^Formatting' -e 'already formatted' >&2 || true
  else
    printf '%s\n' "$out" | grep -iv -e scram -e 'bootstrap metadata' >&2 || true
    echo "launcher: formatting the storage of $1 failed" >&2
    return 1
  fi
}
