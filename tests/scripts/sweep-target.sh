#!/usr/bin/env bash
# Keeps the reused build directory ($CARGO_TARGET_DIR, kept between runs) from filling the disk.
# Cargo never deletes old artefacts: every change of a test crate leaves its previous executable
# behind (hundreds of MB each, with debug info), and incremental caches only grow. When less than
# SWEEP_MIN_FREE_GB (default 15) is free on the build directory's file system, this deletes the
# incremental caches and every executable in */deps that a newer one of the same name replaced,
# then says what is free. Nothing that the next build reuses is deleted: libraries (.rlib, .rmeta)
# stay, and so does the newest executable of each name.
#
#   sweep-target.sh [TARGET_DIR]
set -euo pipefail

target=${1:-${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR or pass the build directory}}
min_free_gb=${SWEEP_MIN_FREE_GB:-15}
[[ -d $target ]] || exit 0

free_gb() { df -P -BG "$target" | awk 'NR == 2 { sub("G", "", $4); print $4 }'; }

before=$(free_gb)
if ((before >= min_free_gb)); then
    echo "sweep-target.sh: ${before} GB free on $target's file system"
    exit 0
fi

find "$target" -mindepth 2 -maxdepth 2 -type d -name incremental -exec rm -rf {} +
for deps in "$target"/*/deps; do
    [[ -d $deps ]] || continue
    declare -A seen=()
    # Newest first; a name is what precedes cargo's 16-hex-digit suffix.
    while IFS= read -r file; do
        [[ $file =~ ^(.+)-[0-9a-f]{16}$ ]] || continue
        [[ -f $deps/$file && -x $deps/$file ]] || continue
        name=${BASH_REMATCH[1]}
        if [[ -n ${seen[$name]:-} ]]; then
            rm -f -- "${deps:?}/$file"
        else
            seen[$name]=1
        fi
    done < <(ls -t -- "$deps")
    unset seen
done
echo "sweep-target.sh: ${before} GB free was below ${min_free_gb} GB; after deleting stale executables" \
    "and incremental caches: $(free_gb) GB"
