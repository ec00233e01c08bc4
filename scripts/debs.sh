# Shared by the set-up scripts (sourced, not run): root commands and Debian packages.
# The sourcing script defines `say` (its progress line on stderr).

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
        say "need root to run: $*"
        return 1
    fi
}

# Install the Debian packages that are missing (apt-get update once if the lists are stale).
install_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local opts=(-y --no-install-recommends -o DPkg::Lock::Timeout=600)
    as_root apt-get install "${opts[@]}" "${missing[@]}" >&2 \
        || { as_root apt-get update >&2 && as_root apt-get install "${opts[@]}" "${missing[@]}" >&2; }
}
