#!/bin/sh
# The dependency step every make target runs first (see README.md).
# Checks for the Debian packages mailjig needs; installs the missing ones with
# apt-get when run as root, otherwise prints the exact command and fails.
# A stamp in the build tree keeps repeated runs cheap: it is refreshed only
# when this list changes or a package disappears.
set -eu

PACKAGES="build-essential clang pkg-config openssl libssl-dev libyaml-dev zlib1g-dev
libcmocka-dev libjansson-dev python3 python3-pytest python3-pytest-xdist
python3-yaml valgrind curl"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$status" in
        ii*) ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "mailjig: missing Debian packages:$missing" >&2
    echo "mailjig: install them with:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "mailjig: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y --no-install-recommends $missing >&2; then
    apt-get update >&2
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing >&2
fi
