#!/usr/bin/env bash
# Build (once per machine) the Go binaries of the real-Argo test bed, from the Go module proxy:
#   - Kubernetes $K8S_VERSION: kube-apiserver, kube-controller-manager, kube-scheduler and
#     kubelet, from a small wrapper module that
#     requires k8s.io/kubernetes and pins every k8s.io staging module to the matching v0.x
#     (`go install pkg@version` refuses k8s.io/kubernetes: its go.mod has replace directives);
#   - Argo Workflows $ARGO_VERSION: workflow-controller, argoexec and the `argo` CLI (whose
#     `argo server` embeds ui/dist/app: built from a copy of the module source with an empty
#     placeholder page there, since the UI is not part of the Go module);
#   - etcd $ETCD_VERSION (Kubernetes 1.34's own etcd is 3.6; before 3.5.13 etcd lacks the watch
#     progress requests the API server needs for client-go's streaming lists, and informers
#     then stall for tens of seconds), from a wrapper module for the same reason;
#   - crane $CRANE_VERSION (go-containerregistry): builds the test images from a root
#     filesystem tarball and serves them as a registry on 127.0.0.1 (nothing else is
#     reachable), so kubelet pulls images the ordinary way, whatever their pull policy.
# Why these versions: v4.0.5 is the only Argo v4 release the module proxy serves; Kubernetes
# 1.34 is the oldest minor Argo v4 is tested against and the last before kubelet refuses
# cgroup v1 by default (this VM has cgroup v1); it still runs with Debian's containerd 1.6.
#
# Output: $JUPYTER_ARGO_TESTBED_CACHE/bin (default ~/.cache/jupyter-argo/argo-testbed/bin),
# printed on the last line of stdout. Progress goes to stderr. First build: about 25 minutes
# on 2 cores; later runs return at once.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.34.4}"
ARGO_VERSION="${ARGO_VERSION:-v4.0.5}"
CRANE_VERSION="${CRANE_VERSION:-v0.22.1}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.17}"
CACHE="${JUPYTER_ARGO_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-argo/argo-testbed}"
BIN="$CACHE/bin"
STAMP="$BIN/.built-k8s-$K8S_VERSION-argo-$ARGO_VERSION-etcd-$ETCD_VERSION"
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
ARGO_CMDS=(workflow-controller argoexec argo)
WANT=(etcd "${K8S_CMDS[@]}" "${ARGO_CMDS[@]}" crane)

say() { echo "argo-build: $*" >&2; }

find_go() {
    # Go >= 1.25 is needed by Argo v4; /usr/local/go first (Debian's bookworm Go is 1.19).
    for g in "${GO:-}" /usr/local/go/bin/go "$(command -v go || true)"; do
        [ -n "$g" ] && [ -x "$g" ] || continue
        minor="$("$g" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
        [ "$minor" -ge 25 ] 2>/dev/null && { echo "$g"; return 0; }
    done
    say "Go >= 1.25 is needed (set GO=/path/to/go)"
    return 1
}

only="${1:-all}"
if [ -f "$STAMP" ]; then echo "$BIN"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.build-lock-$only"
flock 9
if [ -f "$STAMP" ]; then echo "$BIN"; exit 0; fi

GO="$(find_go)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$BIN"

build_kubernetes() {
    local wrap="$CACHE/src/k8s-wrapper-$K8S_VERSION" staging
    mkdir -p "$wrap"
    staging="0.${K8S_VERSION#1.}"
    (
        cd "$wrap"
        cat >go.mod <<MOD
module jupyter-argo.local/k8s-testbed

go 1.24

require k8s.io/kubernetes v$K8S_VERSION
MOD
        cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
        # k8s.io/kubernetes requires each staging module at v0.0.0 (replaced by a path in its
        # own repository): pin every one of them to the release's v0.x.
        "$GO" mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
        local kmod
        kmod="$("$GO" env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod"
        grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$kmod" | awk '{print $1}' | sort -u \
            | while read -r m; do echo "replace $m => $m v$staging" >>go.mod; done
        "$GO" mod tidy -e >&2 || true
        "$GO" get "k8s.io/kubernetes@v$K8S_VERSION" >&2
        local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#1.} \
-X k8s.io/component-base/version.gitTreeState=clean"
        ldflags="${ldflags//\\$'\n'/}"
        for cmd in "${K8S_CMDS[@]}"; do
            [ -x "$BIN/$cmd" ] && continue
            say "building $cmd v$K8S_VERSION"
            "$GO" build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
            mv "$BIN/$cmd.tmp" "$BIN/$cmd"
        done
    )
}

build_argo() {
    local src="$CACHE/src/argo-workflows-$ARGO_VERSION" mod
    mod="$("$GO" mod download -json "github.com/argoproj/argo-workflows/v4@$ARGO_VERSION" \
        | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
    [ -d "$mod" ] || { say "module source for Argo $ARGO_VERSION not found"; return 1; }
    if [ ! -f "$src/.copied" ]; then
        rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$mod" "$src" && chmod -R u+w "$src"
        touch "$src/.copied"
    fi
    # In Argo's repository workflow/executor/osspecific/signal_linux.go is a symlink to
    # signal_darwin.go; module zips drop symlinks, so argoexec does not build for Linux
    # from the module as served. Restore it as the repository has it.
    local osspecific="$src/workflow/executor/osspecific"
    [ -e "$osspecific/signal_linux.go" ] || cp "$osspecific/signal_darwin.go" "$osspecific/signal_linux.go"
    # `argo server` embeds the UI (ui/dist/app), which is built with yarn, not Go: a
    # placeholder page stands in for it; the API (what the tests use) is all Go.
    mkdir -p "$src/ui/dist/app"
    echo '<!doctype html><title>Argo (API only)</title><p>UI not built.' >"$src/ui/dist/app/index.html"
    local x="github.com/argoproj/argo-workflows/v4"
    local ldflags="-s -w -X $x.version=$ARGO_VERSION -X $x.gitTag=$ARGO_VERSION -X $x.gitTreeState=clean -X $x.gitCommit=module-proxy-$ARGO_VERSION"
    (
        cd "$src"
        for cmd in "${ARGO_CMDS[@]}"; do
            [ -x "$BIN/$cmd" ] && continue
            say "building $cmd $ARGO_VERSION"
            "$GO" build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd.tmp" "./cmd/$cmd" >&2
            mv "$BIN/$cmd.tmp" "$BIN/$cmd"
        done
        # The CRDs the controller needs, from the same release.
        rm -rf "$CACHE/crds" && mkdir -p "$CACHE/crds"
        cp manifests/base/crds/full/argoproj.io_*.yaml "$CACHE/crds/" 2>/dev/null \
            || cp manifests/base/crds/minimal/argoproj.io_*.yaml "$CACHE/crds/"
    )
}

build_etcd() {
    [ -x "$BIN/etcd" ] && "$BIN/etcd" --version 2>/dev/null | grep -q "${ETCD_VERSION#v}" && return 0
    local wrap="$CACHE/src/etcd-wrapper-$ETCD_VERSION"
    mkdir -p "$wrap"
    say "building etcd $ETCD_VERSION"
    (
        cd "$wrap"
        printf 'module jupyter-argo.local/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
            "$ETCD_VERSION" >go.mod
        printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
        "$GO" mod tidy -e >&2 || true
        "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
        mv "$BIN/etcd.tmp" "$BIN/etcd"
    )
}

build_crane() {
    [ -x "$BIN/crane" ] && return 0
    say "building crane $CRANE_VERSION"
    GOBIN="$BIN" "$GO" install -trimpath -ldflags "-s -w" \
        "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" >&2
}

case "$only" in
    kubernetes) build_kubernetes ;;
    argo) build_argo ;;
    crane) build_crane ;;
    etcd) build_etcd ;;
    all) build_crane; build_etcd; build_kubernetes; build_argo ;;
esac
for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || { [ "$only" != all ] && exit 0; say "missing $b"; exit 1; }; done
touch "$STAMP"
echo "$BIN"
