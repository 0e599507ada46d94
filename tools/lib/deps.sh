# deps.sh — make sure the Debian packages in tools/lib/packages.txt are
# installed. Sourced by tools/test and tools/demo.
#
# As root, missing packages are installed with apt-get (after one
# `apt-get update`). Otherwise the exact apt-get line is printed and the
# caller stops: nothing is installed behind a normal user's back.

st_missing_packages() {
    local list=$1 pkg missing=()
    while read -r pkg; do
        pkg=${pkg%%#*}
        pkg=$(echo "$pkg" | tr -d '[:space:]')
        [ -n "$pkg" ] || continue
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done < "$list"
    echo "${missing[@]:-}"
}

st_ensure_packages() {
    local list=$1 missing
    if ! command -v dpkg-query >/dev/null; then
        echo "settle: this script installs Debian packages and needs dpkg; on another system install the equivalents of $list by hand" >&2
        return 1
    fi
    missing=$(st_missing_packages "$list")
    [ -n "$missing" ] || return 0
    if [ "$(id -u)" != 0 ]; then
        echo "settle: missing Debian packages. Install them, then run this again:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
        return 1
    fi
    echo "settle: installing: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || { echo "settle: apt-get update failed" >&2; return 1; }
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null \
        || { echo "settle: apt-get install failed for: $missing" >&2; return 1; }
    # The Debian package starts a system cluster on 5432; settle never uses it.
    missing=$(st_missing_packages "$list")
    if [ -n "$missing" ]; then
        echo "settle: still missing after install: $missing" >&2
        return 1
    fi
}
