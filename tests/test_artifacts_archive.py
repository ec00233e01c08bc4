"""Archive strategies: Argo's layout on the way out, and a suspicious unpacker on the way in."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from jupyter_argo.artifacts import embedded_repository, load_input, save_output
from jupyter_argo.artifacts._archive import (
    input_strategy,
    is_gzipped_tar,
    pack_tgz,
    pack_zip,
    strategy_of,
    unpack_tar,
    unpack_zip,
)
from jupyter_argo.errors import ArtifactError


def no_secrets(name: str, key: str) -> str | None:
    return None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with a nested file, an empty directory, a link and an executable."""
    root = tmp_path / "src" / "out"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "deeper" / "b.txt").write_text("beta\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "link").symlink_to("a.txt")
    return root


def snapshot(root: Path) -> dict[str, object]:
    """What a directory holds: files with bytes and mode, links with targets, dirs."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return found


# --- layout ------------------------------------------------------------------------------


def test_tgz_of_a_file_holds_its_base_name_at_the_top(tmp_path: Path) -> None:
    src = tmp_path / "hello_world.txt"
    src.write_text("hello world\n")
    out = io.BytesIO()
    pack_tgz(src, out, arcname="hello_world.txt")
    data = out.getvalue()
    # gzip as Go writes it: no file name (FLG 0), modification time 0, unknown OS.
    assert data[:4] == b"\x1f\x8b\x08\x00"
    assert data[4:8] == b"\x00\x00\x00\x00"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [(m.name, m.isreg(), m.size) for m in members] == [("hello_world.txt", True, 12)]
        assert tar.extractfile(members[0]).read() == b"hello world\n"  # type: ignore[union-attr]
        assert not members[0].pax_headers  # plain ustar, as Go's writer picks when it can


def test_tgz_of_a_directory_walks_in_go_order_and_keeps_links(tree: Path) -> None:
    out = io.BytesIO()
    pack_tgz(tree, out, arcname="out")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue()), mode="r:gz") as tar:
        names = [(m.name.rstrip("/"), m.type) for m in tar.getmembers()]
    assert names == [
        ("out", tarfile.DIRTYPE),
        ("out/a.txt", tarfile.REGTYPE),
        ("out/empty", tarfile.DIRTYPE),
        ("out/link", tarfile.SYMTYPE),
        ("out/run.sh", tarfile.REGTYPE),
        ("out/sub", tarfile.DIRTYPE),
        ("out/sub/deeper", tarfile.DIRTYPE),
        ("out/sub/deeper/b.txt", tarfile.REGTYPE),
    ]


def test_gnu_tar_reads_our_tgz(tree: Path, tmp_path: Path) -> None:
    archive = tmp_path / "out.tgz"
    with open(archive, "wb") as f:
        pack_tgz(tree, f, arcname="out")
    listed = subprocess.run(
        ["tar", "tzf", str(archive)], capture_output=True, text=True, check=True
    )
    assert "out/sub/deeper/b.txt" in listed.stdout.split()
    target = tmp_path / "by-gnu-tar"
    target.mkdir()
    subprocess.run(["tar", "xzf", str(archive), "-C", str(target)], check=True)
    assert snapshot(target / "out") == snapshot(tree)


@pytest.mark.parametrize("level", [0, 1, 9])
def test_compression_level_is_honoured(tmp_path: Path, level: int) -> None:
    src = tmp_path / "text"
    src.write_bytes(b"the same line again\n" * 5000)
    out = io.BytesIO()
    pack_tgz(src, out, arcname="text", level=level)
    size = len(out.getvalue())
    if level == 0:
        assert size > 100_000  # stored, not deflated: still a valid gzip
    else:
        assert size < 10_000
    assert gzip.decompress(out.getvalue())[512 : 512 + 20] == b"the same line again\n"


def test_zip_holds_files_under_the_base_name(tree: Path) -> None:
    out = io.BytesIO()
    pack_zip(tree, out, arcname="out")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        assert zf.namelist() == ["out/a.txt", "out/link", "out/run.sh", "out/sub/deeper/b.txt"]
        assert zf.read("out/sub/deeper/b.txt") == b"beta\n"
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())


def test_zip_of_a_file_is_not_stored_under_its_absolute_path(tmp_path: Path) -> None:
    src = tmp_path / "report.csv"
    src.write_text("a,b\n")
    out = io.BytesIO()
    pack_zip(src, out, arcname="report.csv")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        assert zf.namelist() == ["report.csv"]


def test_strategies_are_read_like_argo() -> None:
    assert strategy_of(None).kind == "tgz"
    assert strategy_of({"none": {}}).kind == "none"
    assert strategy_of({"zip": {}}).kind == "zip"
    assert strategy_of({"tar": {}}).level == -1
    assert strategy_of({"tar": {"compressionLevel": 0}}).level == 0
    assert input_strategy(None) is None
    for bad in ({"tar": {"compressionLevel": 10}}, {"tar": {"compressionLevel": "9"}}, {"rar": {}}):
        with pytest.raises(ArtifactError):
            strategy_of(bad)


def test_only_gzipped_tars_are_detected(tmp_path: Path, tree: Path) -> None:
    tgz, plain, zipped, text = (tmp_path / n for n in ("a.tgz", "a.tar", "a.zip", "a.txt"))
    with open(tgz, "wb") as f:
        pack_tgz(tree, f, arcname="out")
    with tarfile.open(plain, "w") as tar:
        tar.add(tree, arcname="out")
    with open(zipped, "wb") as f:
        pack_zip(tree, f, arcname="out")
    text.write_bytes(gzip.compress(b"not a tar, only gzip"))
    assert is_gzipped_tar(tgz)
    # Argo's isTarball: plain tars, zips and other gzip content are left as they are.
    assert not any(is_gzipped_tar(p) for p in (plain, zipped, text, tmp_path))


# --- round trips through the embedded repository ------------------------------------------


STRATEGIES = [None, {"none": {}}, {"tar": {"compressionLevel": 0}}, {"tar": {}}, {"zip": {}}]


@pytest.mark.parametrize("archive", STRATEGIES, ids=["default", "none", "tar0", "tar", "zip"])
def test_every_strategy_round_trips_a_directory(
    tmp_path: Path, tree: Path, archive: dict[str, object] | None
) -> None:
    repo = embedded_repository(tmp_path / "repo")
    spec: dict[str, object] = {"name": "out", "path": "/work/out"}
    if archive is not None:
        spec["archive"] = archive
    status = save_output(spec, tree, key_prefix="wf/wf-main-1", default=repo, secrets=no_secrets)
    assert status is not None
    dest = tmp_path / "dest" / "in"
    load_input({"name": "in", "path": "/in", **status}, dest, default=repo, secrets=no_secrets)
    expected = snapshot(tree)
    if archive is not None and "none" in archive:
        # Objects hold bytes only: links arrive as the files they point to, empty
        # directories and modes are not kept (as with Argo's S3 driver).
        expected = {
            "a.txt": (b"alpha\n", 0o644),
            "link": (b"alpha\n", 0o644),
            "run.sh": (b"#!/bin/sh\necho hi\n", 0o644),
            "sub": "dir",
            "sub/deeper": "dir",
            "sub/deeper/b.txt": (b"beta\n", 0o644),
        }
    if archive is not None and "zip" in archive:
        expected = {k: v for k, v in expected.items() if k != "empty"}
        expected["link"] = (b"alpha\n", 0o644)
    assert snapshot(dest) == expected


@pytest.mark.parametrize("archive", STRATEGIES, ids=["default", "none", "tar0", "tar", "zip"])
def test_every_strategy_round_trips_a_file(
    tmp_path: Path, archive: dict[str, object] | None
) -> None:
    repo = embedded_repository(tmp_path / "repo")
    src = tmp_path / "hello_world.txt"
    src.write_text("hello world\n")
    spec: dict[str, object] = {"name": "hello-art", "path": "/tmp/hello_world.txt"}
    if archive is not None:
        spec["archive"] = archive
    status = save_output(spec, src, key_prefix="wf/wf-gen-1", default=repo, secrets=no_secrets)
    assert status is not None
    expected_name = {None: "hello-art.tgz", "none": "hello_world.txt", "zip": "hello-art.zip"}
    kind = None if archive is None else next(iter(archive))
    assert status["s3"] == {"key": f"wf/wf-gen-1/{expected_name.get(kind, 'hello-art.tgz')}"}
    dest = tmp_path / "in" / "message"
    load_input({"name": "message", **status}, dest, default=repo, secrets=no_secrets)
    assert dest.read_text() == "hello world\n"


def test_an_archive_made_by_gnu_tar_is_unpacked(tmp_path: Path, tree: Path) -> None:
    archive = tmp_path / "made-by-tar.tgz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(tree.parent), "out"], check=True)
    repo = embedded_repository(tmp_path / "repo")
    repo_root = repo.root
    assert repo_root is not None
    (repo_root / "x").mkdir(parents=True)
    shutil.copy(archive, repo_root / "x" / "out.tgz")
    dest = tmp_path / "dest"
    load_input({"name": "in", "s3": {"key": "x/out.tgz"}}, dest, default=repo, secrets=no_secrets)
    assert snapshot(dest) == snapshot(tree)


def test_several_top_level_entries_make_the_target_a_directory(tmp_path: Path) -> None:
    archive = tmp_path / "two.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("one", "two"):
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "dest"
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    unpack_tar(archive, unpacked)
    assert sorted(p.name for p in unpacked.iterdir()) == ["one", "two"]
    repo = embedded_repository(tmp_path / "repo")
    assert repo.root is not None
    (repo.root / "k").mkdir(parents=True)
    shutil.copy(archive, repo.root / "k" / "two.tgz")
    load_input({"name": "in", "s3": {"key": "k/two.tgz"}}, dest, default=repo, secrets=no_secrets)
    assert (dest / "one").read_text() == "one"
    assert (dest / "two").read_text() == "two"


# --- hostile archives ---------------------------------------------------------------------


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"x") -> tuple:
    return name, kind, link, data


def _hostile_tar(path: Path, entries: list[tuple]) -> None:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, link, data in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.mode = 0o644
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)


def _hostile_zip(path: Path, names: list[str]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # ZipInfo would clean the name; a hostile writer does not
            zf.writestr(info, b"x")


def _load_hostile(tmp_path: Path, archive: Path, strategy: dict[str, object] | None) -> Path:
    repo = embedded_repository(tmp_path / "repo")
    assert repo.root is not None
    (repo.root / "evil").mkdir(parents=True)
    shutil.copy(archive, repo.root / "evil" / archive.name)
    target_parent = tmp_path / "sandbox"
    target_parent.mkdir()
    spec: dict[str, object] = {"name": "in", "s3": {"key": f"evil/{archive.name}"}}
    if strategy is not None:
        spec["archive"] = strategy
    with pytest.raises(ArtifactError, match=r"^artifact in: unsafe archive: ") as caught:
        load_input(spec, target_parent / "target", default=repo, secrets=no_secrets)
    assert "\n" not in str(caught.value)
    # Nothing at the target, no temporary left behind.
    assert list(target_parent.iterdir()) == []
    return target_parent


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory the archives aim at; it must stay empty."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


TAR_ATTACKS = {
    "absolute": lambda out: [_entry(str(out / "evil"))],
    "dot-dot": lambda out: [_entry("../outside/evil")],
    "dot-dot-inside": lambda out: [_entry("target/../../outside/evil")],
    "symlink-absolute": lambda out: [_entry("link", tarfile.SYMTYPE, str(out))],
    "symlink-relative": lambda out: [_entry("link", tarfile.SYMTYPE, "../outside")],
    "write-through-symlink": lambda out: [
        _entry("d/link", tarfile.SYMTYPE, "."),
        _entry("d/link/evil"),
    ],
    "symlink-chain": lambda out: [
        _entry("d/s", tarfile.SYMTYPE, "."),
        _entry("d/l", tarfile.SYMTYPE, "s/../.."),
        _entry("d/x", tarfile.SYMTYPE, "l/.."),
    ],
    "symlink-swap": lambda out: [
        _entry("d/s", tarfile.SYMTYPE, "."),
        _entry("d/l", tarfile.SYMTYPE, "s/.."),
        _entry("d/e", tarfile.SYMTYPE, "l/.."),
    ],
    "hardlink-absolute": lambda out: [_entry("h", tarfile.LNKTYPE, "/etc/hostname")],
    "hardlink-relative": lambda out: [_entry("h", tarfile.LNKTYPE, "../outside/secret")],
    "hardlink-through-symlink": lambda out: [
        _entry("d/up", tarfile.SYMTYPE, ".."),
        _entry("d/h", tarfile.LNKTYPE, "d/up/../x"),
    ],
    "hardlink-through-symlink-chain": lambda out: [
        _entry("s", tarfile.SYMTYPE, "."),
        _entry("l", tarfile.SYMTYPE, "s/.."),
        _entry("h", tarfile.LNKTYPE, "l/fetched"),
    ],
    "only-a-link": lambda out: [_entry("lonely", tarfile.SYMTYPE, ".")],
}


@pytest.mark.parametrize("attack", sorted(TAR_ATTACKS))
@pytest.mark.parametrize("strategy", [None, {"tar": {}}], ids=["detected", "declared"])
def test_hostile_tars_fail_and_write_nothing_outside(
    tmp_path: Path, outside: Path, attack: str, strategy: dict[str, object] | None
) -> None:
    (outside / "secret").write_text("keep me")
    archive = tmp_path / "evil.tgz"
    _hostile_tar(archive, TAR_ATTACKS[attack](outside))
    sandbox = _load_hostile(tmp_path, archive, strategy)
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "keep me"
    assert not (sandbox.parent / "evil").exists()


@pytest.mark.parametrize("name", ["/abs/evil", "../outside/evil", "a/../../outside/evil", "C:/x"])
def test_hostile_zips_fail_and_write_nothing_outside(
    tmp_path: Path, outside: Path, name: str
) -> None:
    archive = tmp_path / "evil.zip"
    _hostile_zip(archive, ["fine.txt", name])
    _load_hostile(tmp_path, archive, {"zip": {}})
    assert list(outside.iterdir()) == []


def test_links_inside_the_target_are_fine(tmp_path: Path) -> None:
    archive = tmp_path / "ok.tgz"
    _hostile_tar(
        archive,
        [
            _entry("top/dir", tarfile.DIRTYPE),
            _entry("top/dir/file", data=b"content"),
            _entry("top/rel", tarfile.SYMTYPE, "dir/file"),
            _entry("top/dir/up", tarfile.SYMTYPE, "../rel"),
            _entry("top/hard", tarfile.LNKTYPE, "top/dir/file"),
        ],
    )
    root = tmp_path / "unpacked"
    root.mkdir()
    unpack_tar(archive, root)
    assert (root / "top" / "dir" / "up").read_text() == "content"
    assert (root / "top" / "hard").read_text() == "content"
    assert (root / "top" / "hard").stat().st_ino == (root / "top" / "dir" / "file").stat().st_ino


def test_a_corrupt_archive_is_one_clear_line(tmp_path: Path) -> None:
    archive = tmp_path / "broken.tgz"
    good = io.BytesIO()
    src = tmp_path / "big"
    src.write_bytes(os.urandom(200_000))
    pack_tgz(src, good, arcname="big")
    archive.write_bytes(good.getvalue()[:50_000])
    root = tmp_path / "unpacked"
    root.mkdir()
    with pytest.raises(ArtifactError, match="not a readable tar archive"):
        unpack_tar(archive, root)
    bad_zip = tmp_path / "broken.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ArtifactError, match="not a readable zip archive"):
        unpack_zip(bad_zip, root)
