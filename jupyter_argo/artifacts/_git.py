"""Git input artifacts through the `git` command, with Argo's clone semantics.

Argo (`workflow/artifacts/git/git.go`, go-git) clones `repo` (at `depth`, only `branch`
when `singleBranch`), fetches any extra `fetch` refspecs, then for a `revision` fetches
every branch and checks out whatever the revision resolves to (branch, tag or commit),
detached, and finally updates submodules unless `disableSubmodules`. Credentials reach
git through a private askpass helper or key file, never the command line or a message.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_argo.artifacts._secrets import Secrets
from jupyter_argo.errors import ArtifactError

__all__ = ["clone"]

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$JUPYTER_ARGO_GIT_USERNAME" ;;
  *) printf '%s\\n' "$JUPYTER_ARGO_GIT_PASSWORD" ;;
esac
"""


def _is_local(repo: str) -> bool:
    return repo.startswith(("file://", "/", "."))


class _Git:
    def __init__(self, spec: Mapping[str, Any], secrets: Secrets, private: Path) -> None:
        self.repo = str(spec.get("repo") or "")
        self.secrets = secrets
        self.config = ["-c", "advice.detachedHead=false"]
        if spec.get("insecureSkipTLS"):
            self.config += ["-c", "http.sslVerify=false"]
        if _is_local(self.repo):
            # Submodules over file:// are refused by default (CVE-2022-39253); a local
            # super-repository already reads local files, so its submodules may too.
            self.config += ["-c", "protocol.file.allow=always"]
        self.env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        auth = spec.get("usernameSecret"), spec.get("passwordSecret")
        username = secrets.get(auth[0], field="git.usernameSecret")
        password = secrets.get(auth[1], field="git.passwordSecret")
        if username is not None or password is not None:
            askpass = private / "askpass.sh"
            askpass.write_text(_ASKPASS)
            askpass.chmod(stat.S_IRWXU)
            self.env.update(
                GIT_ASKPASS=str(askpass),
                JUPYTER_ARGO_GIT_USERNAME=username or "",
                JUPYTER_ARGO_GIT_PASSWORD=password or "",
            )
        key = secrets.get(spec.get("sshPrivateKeySecret"), field="git.sshPrivateKeySecret")
        if key is not None:
            key_file = private / "id_key"
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key if key.endswith("\n") else key + "\n")
            command = f"ssh -i '{key_file}' -o IdentitiesOnly=yes -o BatchMode=yes"
            if spec.get("insecureIgnoreHostKey"):
                command += " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
            self.env["GIT_SSH_COMMAND"] = command

    def run(self, *args: str, cwd: Path | None = None, what: str) -> str:
        try:
            done = subprocess.run(
                ["git", *self.config, *args],
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            raise ArtifactError("git: the git command is not installed") from None
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise ArtifactError(self.secrets.redact(f"git: failed to {what}: {reason}"))
        return done.stdout.strip()


def clone(spec: Mapping[str, Any], dest: Path, secrets: Secrets) -> None:
    """Clone the repository `spec` describes into `dest`, which must not exist yet."""
    repo = str(spec.get("repo") or "")
    if not repo:
        raise ArtifactError("git: repo is required")
    branch = str(spec.get("branch") or "")
    single = bool(spec.get("singleBranch"))
    if single and not branch:
        raise ArtifactError("git: single branch mode without a branch specified")
    depth = spec.get("depth")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ArtifactError(f"git: depth must be a whole number, not {depth!r}")
    revision = str(spec.get("revision") or "")
    private = Path(tempfile.mkdtemp(prefix="jupyter-argo-git-"))
    try:
        git = _Git(spec, secrets, private)
        args = ["clone", "--quiet"]
        if depth:
            args += ["--depth", str(depth)]
            if not single:
                args.append("--no-single-branch")  # go-git keeps every branch at that depth
        if single:
            args += ["--single-branch", "--branch", branch]
        git.run(*args, "--", repo, str(dest), what=f"clone {repo!r}")
        fetch_specs = [str(s) for s in spec.get("fetch") or []]
        if fetch_specs:
            extra = ["--depth", str(depth)] if depth else []
            git.run("fetch", "--quiet", *extra, "origin", *fetch_specs, cwd=dest, what="fetch")
        if revision:
            _checkout(git, dest, revision, branch if single else "", depth or 0)
        if not spec.get("disableSubmodules") and (dest / ".gitmodules").exists():
            git.run(
                "submodule", "update", "--init", "--recursive", cwd=dest, what="update submodules"
            )
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _checkout(git: _Git, dest: Path, revision: str, branch: str, depth: int) -> None:
    heads = f"refs/heads/{branch}:refs/heads/{branch}" if branch else "refs/heads/*:refs/heads/*"
    git.run("fetch", "--quiet", "--update-head-ok", "origin", heads, cwd=dest, what="fetch")
    commit = _resolve(git, dest, revision)
    if commit is None:
        # A shallow clone may not hold an older tag or commit yet: ask for it by name.
        extra = ["--depth", str(depth)] if depth else []
        fetch = ["fetch", "--quiet", *extra, "origin", revision]
        git.run(*fetch, cwd=dest, what=f"fetch revision {revision!r}")
        commit = _resolve(git, dest, "FETCH_HEAD")
    if commit is None:
        raise ArtifactError(f"git: failed to resolve revision {revision!r}")
    git.run("checkout", "--quiet", "--detach", commit, cwd=dest, what=f"checkout {revision!r}")


def _resolve(git: _Git, dest: Path, revision: str) -> str | None:
    for candidate in (revision, f"origin/{revision}"):
        try:
            verify = ["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"]
            return git.run(*verify, cwd=dest, what="resolve")
        except ArtifactError:
            continue
    return None
