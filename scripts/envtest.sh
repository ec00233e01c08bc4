#!/usr/bin/env bash
# Provide a real kube-apiserver and etcd for the Kubernetes backend's tests (envtest-style).
#
# Prints the directory holding both binaries on its last line of stdout. Idempotent: it
# uses $KUBEBUILDER_ASSETS when that already holds them, else the cache, else it builds
# them into the cache (5 to 15 minutes, once per machine):
#   - etcd from Debian's etcd-server package;
#   - kube-apiserver v1.20.2 from Debian's `kubernetes` source package, with Go from
#     Debian's golang-go, offline (GOPROXY=off, vendored modules).
# The vendored modern-go/reflect2 1.0.1 crashes under Go >= 1.18 on the first custom
# resource list or watch, so it is swapped for Debian's reflect2 1.0.2 before building.
#
# Cache: $JUPYTER_ARGO_ENVTEST_CACHE, default ~/.cache/jupyter-argo/envtest (outside the repo
# so that a fresh clone on the same machine reuses it). Progress goes to stderr.
set -euo pipefail

CACHE="${JUPYTER_ARGO_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-argo/envtest}"
BIN="$CACHE/bin"
K8S_VERSION="1.20.2"

say() { echo "envtest: $*" >&2; }

have_assets() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ]; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_assets "$KUBEBUILDER_ASSETS"; then
    echo "$KUBEBUILDER_ASSETS"
    exit 0
fi
if have_assets "$BIN"; then
    echo "$BIN"
    exit 0
fi

mkdir -p "$CACHE"
# One build at a time: parallel test sessions wait for the first one's build.
exec 9>"$CACHE/.lock"
flock 9
if have_assets "$BIN"; then
    echo "$BIN"
    exit 0
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
        say "need root to run: $*"
        return 1
    fi
}

install_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
        || { as_root apt-get update >&2 && as_root apt-get install -y --no-install-recommends \
            "${missing[@]}" >&2; }
}

install_debs etcd-server golang-go golang-github-modern-go-reflect2-dev dpkg-dev make rsync
mkdir -p "$BIN.tmp"
cp /usr/bin/etcd "$BIN.tmp/etcd"

# The source package, through a private deb-src list (the system's apt sources stay as they are).
SRC="$CACHE/src"
if [ ! -f "$SRC/.unpacked" ]; then
    say "downloading Debian's kubernetes source package"
    rm -rf "$SRC" && mkdir -p "$SRC/lists/partial"
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    cat >"$SRC/sources.list" <<EOF
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
EOF
    apt_opts=(-o "Dir::Etc::SourceList=$SRC/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$SRC/lists" -o "Dir::Cache=$SRC/cache" -o "Debug::NoLocking=1")
    apt-get "${apt_opts[@]}" update >&2
    version="$(apt-cache "${apt_opts[@]}" showsrc kubernetes | awk '/^Version:/ {print $2}' \
        | grep -F "really$K8S_VERSION" | head -n 1)"
    [ -n "$version" ] || { say "no kubernetes $K8S_VERSION source package found"; exit 1; }
    (cd "$SRC" && apt-get "${apt_opts[@]}" source --only-source "kubernetes=$version" >&2)
    touch "$SRC/.unpacked"
fi
TREE="$(find "$SRC" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n 1)"
[ -n "$TREE" ] || { say "the unpacked source tree is missing under $SRC"; exit 1; }

REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
say "replacing vendored modern-go/reflect2 with Debian's ($REFLECT2)"
rsync -a --delete --exclude '.git*' "$REFLECT2/" "$TREE/vendor/github.com/modern-go/reflect2/"

say "building kube-apiserver $K8S_VERSION (several minutes)"
(
    cd "$TREE"
    unset GOFLAGS GOPATH
    export GOPROXY=off GOTOOLCHAIN=local
    export KUBE_GIT_VERSION="v$K8S_VERSION" KUBE_GIT_TREE_STATE=clean
    make WHAT=cmd/kube-apiserver >&2
)
built="$(find "$TREE/_output" -type f -name kube-apiserver -perm -u+x | head -n 1)"
[ -n "$built" ] || { say "the build produced no kube-apiserver"; exit 1; }
cp "$built" "$BIN.tmp/kube-apiserver"
rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
rm -rf "$SRC"  # 2 GB of sources, objects and Go's build cache, not needed once built
say "ready in $BIN"
echo "$BIN"
