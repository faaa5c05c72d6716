"""One seam between the lab and its engine (issue 16): only labhub.backend knows docker from swarm.
Features neither import the swarm backend nor read `spawner.kind`; they ask the backend and its flags."""

from __future__ import annotations

import ast
from pathlib import Path

import docker

from labhub.backend import Server, backend_for
from labhub.backend.docker import DockerBackend
from labhub.backend.swarm.backend import SwarmBackend
from labhub.gpu.broker import GpuBroker
from labhub.gpu.hubside import open_store
from labhub.gpu.inventory import simulated_inventory
from labhub.gpu.settings import SimulatedGpus
from labhub.profiles import Profile
from labhub.settings import Settings

PACKAGE = Path(__file__).parents[2] / "hub" / "labhub"
SWARM_MODULES = ("labhub.backend.swarm", "labhub.swarm")


def _imported(module: str, is_package: bool, tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an import statement names (relative imports resolved), with its line."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found += [(node.lineno, target)] + [(node.lineno, f"{target}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def _spawner_aliases(tree: ast.AST) -> set[str]:
    """Names bound to `<x>.spawner` (sp = settings.spawner; sp, hub = settings.spawner, settings.hub)."""
    aliases = {"spawner"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                     else [(target, node.value)])
            aliases |= {t.id for t, v in pairs
                        if isinstance(t, ast.Name) and isinstance(v, ast.Attribute) and v.attr == "spawner"}
    return aliases


def _reads_spawner_kind(tree: ast.AST) -> list[int]:
    """Lines reading `.kind` of the spawner settings or a spawner (settings.spawner.kind, spawner.kind, sp.kind)."""
    aliases = _spawner_aliases(tree)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "kind"
            and ((isinstance(node.value, ast.Attribute) and node.value.attr == "spawner")
                 or (isinstance(node.value, ast.Name) and node.value.id in aliases))]


def seam_violations(root: Path = PACKAGE) -> list[str]:
    """Modules of the package at `root` outside its backend/ that import the swarm backend or read spawner.kind."""
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root)
        if where.parts[0] == "backend":
            continue
        parts = (root.name, *where.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        tree = ast.parse(path.read_text(), str(path))
        found += [f"{where}:{line} imports {name}" for line, name in _imported(module, is_package, tree)
                  if any(name == m or name.startswith(m + ".") for m in SWARM_MODULES)]
        found += [f"{where}:{line} reads spawner.kind" for line in _reads_spawner_kind(tree)]
    return sorted(set(found))


def test_no_feature_imports_the_swarm_backend_or_reads_spawner_kind():
    assert (PACKAGE / "backend" / "swarm" / "spawner.py").is_file()  # the package checked is the real one
    assert seam_violations() == []


def test_the_checker_finds_what_it_forbids(tmp_path):
    # A package with one offender of each kind outside backend/, and look-alikes that are allowed.
    fake = tmp_path / "labhub"
    (fake / "backend" / "swarm").mkdir(parents=True)
    (fake / "gpu").mkdir()
    (fake / "backend" / "docker.py").write_text("from .swarm.nodes import nodes\nx = settings.spawner.kind\n")
    (fake / "gpu" / "a.py").write_text("from ..backend.swarm.nodes import service_states\n")
    (fake / "gpu" / "b.py").write_text("from ..swarm import gpus\n")
    (fake / "c.py").write_text("import labhub.backend.swarm.spawner\n")
    (fake / "d.py").write_text("def f(settings):\n    return settings.spawner.kind == 'swarm'\n")
    (fake / "e.py").write_text("def f(settings):\n    sp, hub = settings.spawner, settings.hub\n    return sp.kind\n")
    (fake / "f.py").write_text("def f(spawner):\n    return spawner.kind\n")
    (fake / "ok.py").write_text("from .backend import backend_for\nkind = auth.kind\nfrom . import swarmish\n")
    assert seam_violations(fake) == [
        "c.py:1 imports labhub.backend.swarm.spawner",
        "d.py:2 reads spawner.kind", "e.py:3 reads spawner.kind", "f.py:2 reads spawner.kind",
        "gpu/a.py:1 imports labhub.backend.swarm.nodes", "gpu/a.py:1 imports labhub.backend.swarm.nodes.service_states",
        "gpu/b.py:1 imports labhub.swarm", "gpu/b.py:1 imports labhub.swarm.gpus",
    ]


def test_backend_for_picks_the_engine_and_says_what_it_cannot_do():
    docker_mode, swarm_mode = backend_for(Settings()), backend_for(Settings(spawner={"kind": "swarm"}))
    assert isinstance(docker_mode, DockerBackend) and (docker_mode.can_exec, docker_mode.local_servers) == (True, True)
    # A swarm manager cannot exec into a container on another node, nor read its cgroups or GPUs.
    assert isinstance(swarm_mode, SwarmBackend) and (swarm_mode.can_exec, swarm_mode.local_servers) == (False, False)
    assert swarm_mode.exec(Server("lab-ann"), ["/bin/true"], {}) is False
    assert swarm_mode.hub_address() == ("0.0.0.0", "hub")


def test_the_swarm_broker_names_the_nodes_where_the_base_names_this_server(tmp_path):
    inventory = simulated_inventory(SimulatedGpus(count=1))
    settings = Settings(hub={"state_dir": str(tmp_path)}, gpu={"inventory": "simulated"})
    broker = GpuBroker(settings.gpu, inventory, open_store(settings, inventory), False)
    two = Profile(slug="two", display_name="Two GPUs", image="labhub/x", cpu_limit=1, mem_limit="1G",
                  gpu={"mode": "whole", "count": 2})
    assert backend_for(settings).gpu_broker(broker) is broker
    assert broker.unavailable_reason(two) == "Not available: it needs 2 whole GPUs, this server has 1 GPU unit."
    manager = docker.DockerClient(version="1.41")  # with a fixed API version nothing reaches an engine
    handed = backend_for(Settings(spawner={"kind": "swarm"}), manager).gpu_broker(broker)
    assert handed.unavailable_reason(two) == "Not available: it needs 2 whole GPUs, the lab's nodes have 1 GPU unit."


def test_the_exporter_reads_containers_only_where_the_servers_are(tmp_path):
    from labhub.metrics.containers import ContainerSource
    from labhub.metrics.exporter import build_sources

    def sources(kind: str) -> list:
        settings = Settings(hub={"state_dir": str(tmp_path)}, gpu={"inventory": "none"},
                            spawner={"kind": kind, "profiles_dir": str(PACKAGE.parents[1] / "spawner_profiles")})
        return build_sources(settings, docker.DockerClient(version="1.41"))

    assert any(isinstance(s, ContainerSource) for s in sources("docker"))
    # Swarm: the containers are on the nodes; each node's exporter has them (backend/swarm/node_metrics.py).
    assert not any(isinstance(s, ContainerSource) for s in sources("swarm"))
