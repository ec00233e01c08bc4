#!/usr/bin/env bash
# Provide everything the real-Argo test bed runs (tests/k8s/testbed.py starts and stops it):
#   1. etcd, Kubernetes, Argo and crane binaries, built from the Go module proxy
#      (argo-build.sh);
#   2. containerd, runc, the CNI loopback plugin and PostgreSQL (Argo's workflow archive),
#      from Debian (apt, when missing);
#   3. the pods' image: a Debian root filesystem (debootstrap minbase + python3) with the
#      project's argosay and cowsay stand-ins (and node, for the one node example), as an OCI image tarball that the test bed
#      pushes to its registry on 127.0.0.1 under every name the examples use.
# Idempotent, one build at a time. Prints the cache directory on its last line of stdout;
# progress goes to stderr. First run: about 30 minutes on 2 cores (mostly Go); then instant.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${JUPYTER_ARGO_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-argo/argo-testbed}"
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE_TAR="$CACHE/images/testbed-image.tar"

say() { echo "argo-testbed: $*" >&2; }

# shellcheck source=scripts/debs.sh
. "$(dirname "$0")/debs.sh"

mkdir -p "$CACHE"
# PostgreSQL: Argo's workflow archive and node-status offloading (the server reads both).
install_debs containerd runc containernetworking-plugins debootstrap mount util-linux postgresql
BIN="$(bash "$HERE/argo-build.sh" | tail -n 1)"

exec 9>"$CACHE/.testbed-lock"
flock 9

if [ ! -s "$IMAGE_TAR" ]; then
    mkdir -p "$CACHE/images"
    work="$(mktemp -d "$CACHE/images/.build.XXXXXX")"
    # A killed debootstrap leaves /proc (and more) mounted in the root filesystem: unmount
    # before removing, and never cross into a mount.
    cleanup() {
        grep -F " $work/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
            as_root umount -l "$m" || true
        done
        as_root rm -rf --one-file-system "$work"
    }
    trap cleanup EXIT
    say "building a Debian $SUITE root filesystem with python3 (a minute or two)"
    as_root debootstrap --variant=minbase --include=python3,nodejs,ca-certificates "$SUITE" \
        "$work/rootfs" "$MIRROR" >&2
    as_root rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
    as_root tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
    # The images' own programs: argosay (argoproj/argosay), cowsay (docker/whalesay) and
    # `python` (python:* images), as a second layer.
    mkdir -p "$work/tools/usr/local/bin"
    cp "$HERE/../jupyter_argo/executors/_bin/argosay" "$work/tools/argosay"
    cp "$HERE/../jupyter_argo/executors/_bin/argosay" "$work/tools/usr/local/bin/argosay"
    cp "$HERE/../jupyter_argo/executors/_bin/cowsay" "$work/tools/usr/local/bin/cowsay"
    mkdir -p "$work/tools/usr/games"
    cp "$HERE/../jupyter_argo/executors/_bin/cowsay" "$work/tools/usr/games/cowsay"
    ln -s /usr/bin/python3 "$work/tools/usr/local/bin/python"
    chmod 755 "$work/tools/argosay" "$work/tools/usr/local/bin/"* "$work/tools/usr/games/cowsay"
    tar --numeric-owner --owner=0 --group=0 -C "$work/tools" -cf "$work/tools.tar" .
    "$BIN/crane" append --oci-empty-base -f "$work/rootfs.tar" -f "$work/tools.tar" \
        -t testbed/base:latest -o "$work/image.tar" >&2
    mv "$work/image.tar" "$IMAGE_TAR"
fi
echo "$CACHE"
