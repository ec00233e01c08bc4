"""Image mapping and sandbox layout: pure rules, no processes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ARGO, argo_examples

from jupyter_argo.errors import ConfigError, UnsupportedError
from jupyter_argo.executors import (
    ContainerSpec,
    ImageMap,
    ImageRule,
    ProcessExecutor,
    SandboxSpec,
)
from jupyter_argo.executors._images import glob_match, split_image
from jupyter_argo.executors._layout import Layout


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", ("busybox", "latest")),
        ("alpine:3.23", ("alpine", "3.23")),
        ("docker.io/library/python:3.12@sha256:abcd", ("python", "3.12")),
        ("localhost:5000/team/tool", ("localhost:5000/team/tool", "latest")),
        ("quay.io/argoproj/argoexec:latest", ("quay.io/argoproj/argoexec", "latest")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str]) -> None:
    assert split_image(image) == expected


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "alpine:3.23",
        "alpine:latest",
        "debian:9.4",
        "ubuntu",
        "python:alpine3.23",
        "node:9.1-alpine",
        "argoproj/argosay:v2",
        "argoproj/argosay:v1",
        "yky8/argosay:v2",
        "docker/whalesay:latest",
        "stedolan/jq:latest",
    ],
)
def test_default_rules_cover_local_images(image: str) -> None:
    assert ImageMap.default().rule_for(image) is not None


@pytest.mark.parametrize("image", ["golang:1.18", "nginx:1.13", "docker:19.03.13-dind"])
def test_default_rules_leave_other_images_unmapped(image: str) -> None:
    assert ImageMap.default().rule_for(image) is None


def test_versioned_rule_wins_for_argosay_v1() -> None:
    rules = ImageMap.default()
    v1 = rules.rule_for("argoproj/argosay:v1")
    v2 = rules.rule_for("argoproj/argosay:v2")
    assert v1 is not None
    assert v2 is not None
    assert v1.cmd == ("cowsay",)
    assert v2.entrypoint == ("/argosay",)


def test_program_for_matches_name_basename_and_files() -> None:
    rule = ImageMap.default().rule_for("python:3.12")
    assert rule is not None
    assert rule.program_for("python") == "@python"
    assert rule.program_for("/usr/local/bin/python3.12") == "@python"
    assert rule.program_for("sh") is None
    argosay = ImageMap.default().rule_for("argoproj/argosay:v2")
    assert argosay is not None
    assert argosay.program_for("/argosay") == "@argosay"


def test_referenced_files_need_a_literal_path() -> None:
    rule = ImageMap.default().rule_for("yky8/argosay:v2")
    assert rule is not None
    assert rule.referenced_files(["/usr/local/bin/argosay echo hi | tee x"]) == {
        "/usr/local/bin/argosay": "@argosay"
    }
    assert rule.referenced_files(["/usr/local/bin/argosay2 echo"]) == {}


def test_user_rules_come_first() -> None:
    mine = ImageRule(match="busybox", programs={"echo": "/bin/echo"}, host_programs=False)
    images = ImageMap.default().with_rules(mine)
    assert images.rule_for("busybox:1.36") is mine


def test_from_config_reads_plain_data() -> None:
    images = ImageMap.from_config(
        {"defaults": False, "rules": [{"match": "golang*", "programs": {"go": "go"}}]}
    )
    assert len(images.rules) == 1
    assert images.rule_for("golang:1.18") is not None
    assert images.rule_for("busybox") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("nope", "expected a list"),
        ([{"programs": {}}], "'match'"),
        ([{"match": "x", "cmd": "sh"}], "'cmd' must be a list"),
        ([{"match": "x", "progams": {}}], "unknown keys"),
        ([{"match": "x", "files": {"relative": "@argosay"}}], "not absolute"),
    ],
)
def test_from_config_errors_are_clear(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ImageMap.from_config(data)


def test_unmapped_image_is_refused_with_its_name(tmp_path: Path) -> None:
    executor = ProcessExecutor(isolation="remap")
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", []))
    container = ContainerSpec("main", "golang:1.18", ["go"], ["build"], {})
    with pytest.raises(UnsupportedError) as caught:
        executor.start(container, sandbox, stdout_path=tmp_path / "o", log_path=tmp_path / "l")
    message = str(caught.value)
    for part in ("'golang:1.18'", "'go'", "%config ArgoMagics.images = [{'match': 'golang'"):
        assert part in message
    assert "\n" not in message


def test_missing_host_program_is_refused(tmp_path: Path) -> None:
    executor = ProcessExecutor(isolation="remap")
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", []))
    container = ContainerSpec("main", "alpine:3.23", ["apk-that-does-not-exist"], ["add"], {})
    with pytest.raises(UnsupportedError, match=r"'alpine:3\.23'.*not installed"):
        executor.start(container, sandbox, stdout_path=tmp_path / "o", log_path=tmp_path / "l")


# Layout


def test_namespace_layout_places_paths(tmp_path: Path) -> None:
    layout = Layout("namespace", tmp_path)
    layout.add(["/tmp/out.txt", "/src/main.py", "/mnt/out/result.json"])
    assert layout.host_path("/tmp/out.txt") == tmp_path / "fs/tmp/out.txt"
    assert layout.host_path("/src/main.py") == tmp_path / "fs/src/main.py"
    if os.path.isdir("/mnt") and not os.path.exists("/mnt/out"):
        assert layout.host_path("/mnt/out/result.json") == tmp_path / "upper/mnt/out/result.json"
    # Paths the sandbox does not make private are the host's own.
    assert layout.host_path("/etc/hostname") == Path("/etc/hostname")
    assert layout.needs_root


@pytest.mark.skipif(not os.path.islink("/bin"), reason="/bin is not a symlink on this host")
def test_namespace_layout_resolves_host_symlinks(tmp_path: Path) -> None:
    layout = Layout("namespace", tmp_path)
    layout.add(["/bin/argo-test-tool"])
    real = os.path.realpath("/bin")
    assert layout.host_path("/bin/argo-test-tool") == tmp_path / "upper" / real.lstrip("/") / (
        "argo-test-tool"
    )


def test_layout_refuses_root_and_kernel_paths(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="'/'"):
        Layout("namespace", tmp_path).add(["/"])
    with pytest.raises(UnsupportedError, match="kernel"):
        Layout("namespace", tmp_path).add(["/proc/self/x"])


def test_remap_layout_rewrites_literal_paths_only(tmp_path: Path) -> None:
    layout = Layout("remap", tmp_path)
    layout.add(["/src", "/tmp/out.txt"])
    text = "cd /src && echo hi > /tmp/out.txt; cat /srcfile /var/tmp/x http://h/src"
    fs = tmp_path / "fs"
    assert layout.rewrite(text) == (
        f"cd {fs}/src && echo hi > {fs}/tmp/out.txt; cat /srcfile /var/tmp/x http://h/src"
    )


def test_shared_mount_wins_over_its_mount_point(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    layout = Layout("namespace", tmp_path / "node", {"/argo-test-volume": volume})
    layout.add(["/argo-test-volume/data.txt"])
    layout.add_mountpoints()
    assert layout.host_path("/argo-test-volume/data.txt") == volume / "data.txt"
    assert tmp_path / "node/fs/argo-test-volume" in layout.directories()


# Every image and command of the locally runnable upstream examples maps to a program.


def _containers(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        for key in ("container", "script"):
            if isinstance(node.get(key), dict):
                found.append(node[key])
        for key in ("sidecars", "initContainers"):
            found.extend(c for c in node.get(key) or [] if isinstance(c, dict))
        container_set = node.get("containerSet")
        if isinstance(container_set, dict):
            found.extend(c for c in container_set.get("containers") or [] if isinstance(c, dict))
        for value in node.values():
            found.extend(_containers(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_containers(value))
    return found


def test_class_a_examples_map_to_local_programs(tmp_path: Path) -> None:
    examples = argo_examples()
    expectations = json.loads((ARGO / "expectations.json").read_text())
    executor = ProcessExecutor(isolation="remap")
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", []))
    checked = 0
    for key, expected in sorted(expectations.items()):
        if expected.get("class") != "A":
            continue
        for document in yaml.safe_load_all((examples.parent / key).read_text()):
            for spec in _containers(document):
                image = spec.get("image", "")
                if not image or "{{" in image:  # chosen by a parameter at run time
                    continue
                command = [str(c) for c in spec.get("command") or []]
                container = ContainerSpec(
                    "main",
                    image,
                    command,
                    [str(a) for a in spec.get("args") or []],
                    {},
                    script_source=spec.get("source"),
                )
                executor._launch(container, sandbox)  # raises if unmapped
                checked += 1
    assert checked > 100
    sandbox.cleanup(wait=True)


def test_python_image_uses_this_interpreter(tmp_path: Path) -> None:
    executor = ProcessExecutor(isolation="remap")
    sandbox = executor.prepare(SandboxSpec(tmp_path / "node", []))
    container = ContainerSpec("main", "python:3.12", ["python3", "-V"], [], {})
    launch = executor._launch(container, sandbox)
    assert launch.argv == [sys.executable, "-V"]


def test_from_config_takes_image_rules_as_they_are() -> None:
    # `%config ArgoMagics.images = [ImageRule(...)]` works as the plain-data form does.
    mine = ImageRule(match="acme/tools", entrypoint=("echo",))
    images = ImageMap.from_config([mine, {"match": "acme/other"}])
    assert images.rule_for("acme/tools:1.0") is mine
    assert images.rule_for("acme/other") is images.rules[1]
    assert images.rule_for("golang:1.18") is None


def test_rule_globs_match_as_fnmatch_matches_them() -> None:
    # The shortcut for plain names and `*/name` answers as the glob (fnmatch) would.
    import fnmatch

    patterns = [
        "alpine",
        "*/alpine",
        "*",
        "*alpine",
        "alp*",
        "python3.*",
        "a?pine",
        "[ab]lpine",
        "argoproj/argosay:v1",
        "*/x*",
        "",
    ]
    subjects = [
        "alpine",
        "docker.io/alpine",
        "library/alpine",
        "xalpine",
        "alpine:3",
        "python3.12",
        "python3",
        "blpine",
        "argoproj/argosay:v1",
        "a/b/x1",
        "",
        "a\nalpine",
    ]
    for pattern in patterns:
        for subject in subjects:
            expected = fnmatch.fnmatchcase(subject, pattern)
            assert glob_match(subject, pattern) is expected, (subject, pattern)
