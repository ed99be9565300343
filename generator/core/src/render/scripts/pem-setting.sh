# shellcheck shell=bash
pem_setting() {
  local nl=$'\n' esc='\n'
  printf '%s' "${1//$nl/$esc}"
}
