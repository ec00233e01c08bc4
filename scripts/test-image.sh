#!/usr/bin/env bash
# Provide a running container engine and the image the container executor's tests run.
#
# No image registry is reachable from CI, so the image is built here: a Debian root
# filesystem from `debootstrap --variant=minbase`, imported with `docker import` (or
# `podman import`). Idempotent and safe to run in parallel: it does only what is missing.
#   1. the engine: docker.io (or podman) and debootstrap, installed with apt when root;
#   2. for docker, a daemon: when none answers, dockerd is started in the background
#      (log in the cache directory) and stays up for later runs;
#   3. the root filesystem, built once into the cache as a tarball (about a minute);
#   4. the image, imported from that tarball when the engine does not have it.
# Prints the image name on its last line of stdout; progress goes to stderr.
#
#   scripts/test-image.sh                  # docker
#   JUPYTER_ARGO_CONTAINER_ENGINE=podman scripts/test-image.sh
#
# Cache: $JUPYTER_ARGO_IMAGE_CACHE, default ~/.cache/jupyter-argo/images (outside the repo
# so that a fresh clone on the same machine reuses it).
set -euo pipefail

ENGINE="${JUPYTER_ARGO_CONTAINER_ENGINE:-docker}"
IMAGE="${JUPYTER_ARGO_TEST_IMAGE:-jupyter-argo/debian-minbase:bookworm}"
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${JUPYTER_ARGO_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-argo/images}"
ROOTFS_TAR="$CACHE/debian-$SUITE-minbase.tar"

say() { echo "test-image: $*" >&2; }

case "$ENGINE" in
    docker | podman) ;;
    *) say "unknown engine '$ENGINE' (docker or podman)"; exit 2 ;;
esac

# shellcheck source=scripts/debs.sh
. "$(dirname "$0")/debs.sh"

engine_answers() { "$ENGINE" info >/dev/null 2>&1; }

have_image() { "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; }

if [ "$ENGINE" = podman ]; then
    # Podman's default ulimits (nofile, nproc) exceed this VM's hard limits, which makes
    # every container fail to start: a drop-in sets them to the hard limits, and the
    # runtime to runc, the one known to work here.
    if [ "$(id -u)" = 0 ]; then dropins=/etc/containers/containers.conf.d; else
        dropins="${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf.d"
    fi
    if [ ! -f "$dropins/jupyter-argo.conf" ]; then
        # Podman runs containers with at most pid_max processes, whatever the hard limit.
        nproc="$(ulimit -Hu)"
        pid_max="$(cat /proc/sys/kernel/pid_max)"
        if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc="$pid_max"; fi
        limits=("\"nproc=$nproc:$nproc\"")
        nofile="$(ulimit -Hn)"
        [ "$nofile" = unlimited ] || limits+=("\"nofile=$nofile:$nofile\"")
        mkdir -p "$dropins"
        {
            echo "[containers]"
            echo "default_ulimits = [$(IFS=,; echo "${limits[*]}")]"
            echo "[engine]"
            echo 'runtime = "runc"'
        } >"$dropins/jupyter-argo.conf"
        say "wrote $dropins/jupyter-argo.conf"
    fi
fi

if command -v "$ENGINE" >/dev/null && engine_answers && have_image; then
    echo "$IMAGE"
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ "$ENGINE" = podman ]; then
    install_debs podman catatonit runc debootstrap  # catatonit: `podman run --init`
else
    install_debs docker.io debootstrap
fi

if [ "$ENGINE" = docker ] && ! engine_answers; then
    # No systemd here: run the daemon ourselves. No bridge and no iptables rules: the
    # executor uses the host's network, and a VM's firewall is not ours to change.
    say "starting dockerd (log: $CACHE/dockerd.log)"
    as_root setsid dockerd --bridge=none --iptables=false --ip-masq=false \
        >>"$CACHE/dockerd.log" 2>&1 </dev/null 9>&- &
    for _ in $(seq 1 300); do
        engine_answers && break
        sleep 0.1
    done
    engine_answers || { say "dockerd did not come up; see $CACHE/dockerd.log"; exit 1; }
fi

if [ ! -s "$ROOTFS_TAR" ]; then
    say "building a Debian $SUITE minbase root filesystem (about a minute)"
    work="$(mktemp -d "$CACHE/.rootfs.XXXXXX")"
    trap 'as_root rm -rf "$work"' EXIT
    as_root debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$MIRROR" >&2
    # Package caches and lists only make the image bigger.
    as_root rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
    as_root tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$ROOTFS_TAR"
fi

if ! have_image; then
    say "importing $ROOTFS_TAR as $IMAGE"
    "$ENGINE" import --change 'CMD ["bash"]' "$ROOTFS_TAR" "$IMAGE" >&2
fi
echo "$IMAGE"
