"""Image sizes (docker image inspect) and build times (images/.build/<name>.build.json, written by
scripts/build-image.sh). The stock baseline runs the same labhub/tensorflow-cpu image, so there is no
stock build to compare: the stock column repeats the image it used."""

from __future__ import annotations

import json
from pathlib import Path

import docker

from .context import Context
from .report import Row

NAME = "images"
ROOT = Path(__file__).resolve().parent.parent
IMAGES = ("base-notebook", "tensorflow-cpu", "tensorflow-cuda")
STOCK_IMAGE = "tensorflow-cpu"
NEEDS_HUBS = False


def image_facts(client: docker.DockerClient, prefix: str, name: str) -> dict | None:
    try:
        image = client.images.get(f"{prefix}/{name}:latest")
    except docker.errors.ImageNotFound:
        return None
    facts = {"image": f"{prefix}/{name}:latest", "id": image.short_id, "size_bytes": image.attrs["Size"],
             "layers": len(image.attrs["RootFS"].get("Layers", [])), "created": image.attrs["Created"]}
    build = ROOT / "images" / ".build" / f"{name}.build.json"
    if build.exists():
        record = json.loads(build.read_text())
        # A build record of an older image of the same name says nothing about this one.
        if record.get("size_bytes") in (None, facts["size_bytes"]):
            facts["build_seconds"] = record.get("build_seconds")
            facts["built_at"] = record.get("built_at")
    return facts


def run(ctx: Context) -> tuple[dict, list[Row]]:
    client = docker.from_env()
    labhub = {name: image_facts(client, "labhub", name) for name in IMAGES}
    stock = {"image": f"labhub/{STOCK_IMAGE}:latest", "note": "stock DockerSpawner runs the same image: no build of its own"}
    result = {"labhub": labhub, "stock": stock, "ratio": {"tensorflow-cpu_size": 1.0},
              "settings": {"build_times": "from images/.build/<name>.build.json (wall time of scripts/build-image.sh; "
                                          "layer cache state of that build unknown)"}}
    rows = []
    for name, facts in labhub.items():
        if facts is None:
            rows.append(Row(NAME, f"{name}: not built", None, None, "text"))
            continue
        same = name == STOCK_IMAGE
        rows.append(Row(NAME, f"{name}: size", facts["size_bytes"], facts["size_bytes"] if same else None, "bytes"))
        seconds = facts.get("build_seconds")
        # As recorded by the last build, which may have reused cached layers.
        rows.append(Row(NAME, f"{name}: last build took", None if seconds is None else f"{seconds:.0f} s", None, "text"))
    return result, rows
