"""Every Docker label and name convention labhub puts on what it creates, in one place: user servers
(containers, or swarm services), GPU leases, bounded homes, helpers, networks. Features find things by
these, so a label is renamed here or nowhere."""

from __future__ import annotations

# A user server (container in docker mode, service in swarm mode).
USER = "labhub.user"
SERVER = "labhub.server"  # the named server ("" for the default one)
PROFILE = "labhub.profile"

# Its GPU lease (labhub.gpu).
GPU = "labhub.gpu"  # comma-separated unit UUIDs
GPU_LEASE = "labhub.gpu.lease"
GPU_MODE = "labhub.gpu.mode"
GPU_SOURCE = "labhub.gpu.source"  # nvml | simulated
GPU_NODE = "labhub.gpu.node"  # swarm: the node whose GPUs a lease holds

# A bounded home's volume (labhub.homes).
HOME_IMAGE = "labhub.home.image"
HOME_USER = "labhub.home.user"
HOME_PREFIX = "labhub.home."  # swarm: node labels naming where homes live

# Short-lived helper containers (fetch, grading, backup).
HELPER = "labhub.helper"  # value: the hub's container prefix (spawner.container_prefix)
HELPER_KIND = "labhub.helper.kind"  # fetch | grading | backup
GRADING = "labhub.grading"  # value: the hub's container prefix
FETCH_USER = "labhub.fetch.user"
BACKUP = "labhub.backup"
BACKUP_VOLUME = "labhub.backup.volume"

# Networks labhub made (bridge, or swarm overlay).
NETWORK = "labhub.network"
