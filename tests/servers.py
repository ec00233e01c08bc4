"""Real servers for tests, on 127.0.0.1: an S3-compatible server (moto's, in its own
process, with signature checking on), a GCS emulator, a small HTTP file server, and
local git repositories built with the git command."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers: that is all we wait for
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up at {url}")


@contextlib.contextmanager
def _process(args: list[str], url: str, what: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(url, process, what)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class S3Server:
    """A moto S3 server with one IAM user whose keys are the only ones accepted."""

    endpoint: str  # host:port, as Argo writes an endpoint
    access_key: str
    secret_key: str
    bucket: str = "artifacts"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start moto's server, create a user, a key and a bucket, then require signatures."""
    import boto3

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _process(args, f"{url}/moto-api/", "moto server"):
        setup = {"endpoint_url": url, "region_name": "us-east-1"}
        anyone = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **setup, **anyone)
        iam.create_user(UserName="argo")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="argo", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="argo")["AccessKey"]
        server = S3Server(f"127.0.0.1:{port}", key["AccessKeyId"], key["SecretAccessKey"])
        server.client().create_bucket(Bucket=server.bucket)
        # From now on every request must be signed with the user's keys.
        request = urllib.request.Request(
            f"{url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).close()
        yield server


@contextlib.contextmanager
def gcs_emulator() -> Iterator[str]:
    """A GCS emulator (gcp-storage-emulator) in its own process; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--in-memory"]
    with _process(args, f"{url}/storage/v1/b", "gcs emulator"):
        yield url


@dataclass
class HttpServer:
    """Serves `files` (path -> bytes); records each request's headers; can demand auth."""

    files: dict[str, bytes] = field(default_factory=dict)
    required_headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def http_server(server: HttpServer | None = None) -> Iterator[HttpServer]:
    state = server or HttpServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _allowed(self) -> bool:
            state.requests.append({k.lower(): v for k, v in self.headers.items()})
            for name, value in state.required_headers.items():
                if self.headers.get(name) != value:
                    self.send_error(403, "missing header")
                    return False
            if state.basic_auth is not None:
                token = base64.b64encode(":".join(state.basic_auth).encode()).decode()
                if self.headers.get("Authorization") != f"Basic {token}":
                    self.send_error(401, "Unauthorized")
                    return False
            return True

        def do_GET(self) -> None:
            if not self._allowed():
                return
            body = state.files.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            if not self._allowed():
                return
            length = int(self.headers.get("Content-Length") or 0)
            state.files[self.path] = self.rfile.read(length)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def git(*args: str, cwd: Path) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@dataclass
class GitRepo:
    """A bare repository at `bare` with branches main and feature and tag v1."""

    bare: Path
    commits: dict[str, str]  # label -> sha

    @property
    def url(self) -> str:
        return self.bare.as_uri()


def make_git_repo(root: Path) -> GitRepo:
    """main: c1 (VERSION=1, tagged v1) -> c2 (VERSION=2) -> c3 (VERSION=3);
    feature: from c1, c4 (VERSION=feature)."""
    work = root / "work"
    work.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=work)
    commits: dict[str, str] = {}

    def commit(label: str, version: str) -> None:
        (work / "VERSION").write_text(version + "\n")
        git("add", "VERSION", cwd=work)
        git("commit", "--quiet", "-m", label, cwd=work)
        commits[label] = git("rev-parse", "HEAD", cwd=work)

    commit("c1", "1")
    git("tag", "v1", cwd=work)
    git("checkout", "--quiet", "-b", "feature", cwd=work)
    commit("c4", "feature")
    git("checkout", "--quiet", "main", cwd=work)
    commit("c2", "2")
    commit("c3", "3")
    bare = root / "repo.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=root)
    return GitRepo(bare, commits)
