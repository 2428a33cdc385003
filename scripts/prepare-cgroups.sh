#!/usr/bin/env bash
# Node preparation for the crun handler on cgroup v1 "hybrid" nodes: crun (1.8) refuses the
# hybrid layout while the empty cgroup v2 tree holds the hugetlb controller; mounting hugetlb
# as a v1 hierarchy moves it there. Does nothing on cgroup v2 (unified) or when already done.
# skiff check reports whether this is needed. Run as root.
set -euo pipefail
root=/sys/fs/cgroup
if [ -f "$root/cgroup.controllers" ]; then exit 0; fi           # unified: nothing to do
if grep -q " $root/hugetlb " /proc/mounts; then exit 0; fi      # already a v1 hierarchy
if ! awk '$1 == "hugetlb" { found = 1 } END { exit !found }' /proc/cgroups; then exit 0; fi
mkdir -p "$root/hugetlb"
mount -t cgroup -o hugetlb cgroup "$root/hugetlb"
echo "mounted the hugetlb cgroup v1 hierarchy at $root/hugetlb (for crun)"
