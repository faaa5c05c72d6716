#!/bin/bash
# Start dockerd inside a privileged container. Extra arguments go to dockerd, e.g.
#   --node-generic-resource NVIDIA-GPU=GPU-<uuid>   (a simulated GPU for swarm's scheduler)
set -euo pipefail

# Mounts made by the inner engine (volumes, bind mounts) must propagate to its containers.
mount --make-rshared /

# Without --privileged (where the outer engine cannot grant every capability, run with
# --cap-add ALL --cap-drop <missing> --security-opt systempaths=unconfined ... instead), /sys and the
# cgroup v1 hierarchies come read-only: the inner engine must write them.
if [ ! -w /sys ] || grep -q ' /sys sysfs ro' /proc/self/mounts; then mount -o remount,rw /sys || true; fi
for dir in /sys/fs/cgroup/*/; do
  if grep -qE " ${dir%/} cgroup ro[ ,]" /proc/self/mounts; then mount -o remount,bind,rw "$dir"; fi
done

# cgroup v2: the inner engine can only hand out controllers from a cgroup with no processes in it,
# so move everything running now into a leaf cgroup first.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/labhub-dind
  while read -r pid; do echo "$pid" >/sys/fs/cgroup/labhub-dind/cgroup.procs 2>/dev/null || true; done \
    </sys/fs/cgroup/cgroup.procs
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
fi

rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
# --tls=false: an explicit choice of a plain TCP socket (dockerd otherwise waits before serving it).
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false "$@"
