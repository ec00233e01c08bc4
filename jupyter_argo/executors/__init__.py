"""Run container and script templates as local processes, or in real containers.

`ProcessExecutor.prepare` gives each node a `Sandbox` (its private view of the
filesystem); `ProcessExecutor.start` maps a container's image to a local program
(`ImageMap`) and starts it there as a `Process` whose whole tree it controls.
See docs/isolation.md for what each isolation mode guarantees.

`ContainerExecutor("docker")` (or `"podman"`) has the same API and runs each container
in its real image, with the same paths, parameters and artifacts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_argo._lazy import lazy_names

if TYPE_CHECKING:
    from jupyter_argo.executors._container import ContainerExecutor
    from jupyter_argo.executors._executor import (
        ContainerSpec,
        ProcessExecutor,
        Sandbox,
        SandboxSpec,
        remove_later,
    )
    from jupyter_argo.executors._images import ImageMap, ImageRule
    from jupyter_argo.executors._linux import dedicate_thread
    from jupyter_argo.executors._process import Process

__all__ = [
    "ContainerExecutor",
    "ContainerSpec",
    "ImageMap",
    "ImageRule",
    "Process",
    "ProcessExecutor",
    "Sandbox",
    "SandboxSpec",
    "dedicate_thread",
    "remove_later",
]

# Each name loads its module on first use (PEP 562): running steps as processes never
# loads the docker/podman executor.
_HOMES = {
    "ContainerExecutor": "_container",
    "ContainerSpec": "_executor",
    "ProcessExecutor": "_executor",
    "Sandbox": "_executor",
    "SandboxSpec": "_executor",
    "remove_later": "_executor",
    "ImageMap": "_images",
    "ImageRule": "_images",
    "dedicate_thread": "_linux",
    "Process": "_process",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
