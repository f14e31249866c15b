#!/usr/bin/env bash
# Install Debian packages as root: apt-install.sh PACKAGE...
#
# Waits for any other apt or dpkg run to release its lock first, and reads the package lists
# again only when the packages cannot be installed from those already there.

set -euo pipefail

log() { printf '[apt-install] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 1 ] || die "usage: $0 PACKAGE..."
[ "$(id -u)" -eq 0 ] || die "installing $* needs root"

apt_busy() {
    # Another apt or dpkg run holds (or is about to take) the lock.
    pgrep -x 'apt|apt-get|aptitude|dpkg|unattended-upgr' >/dev/null 2>&1 && return 0
    if command -v fuser >/dev/null 2>&1; then
        fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock \
            >/dev/null 2>&1 && return 0
    fi
    return 1
}

waited=0
while apt_busy; do
    [ "$waited" -eq 0 ] && log "another apt/dpkg run holds the lock; waiting for it"
    [ "$waited" -ge 900 ] && die "apt/dpkg still busy after ${waited}s"
    sleep 2
    waited=$((waited + 2))
done

apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
install() {
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "$@" \
        >/dev/null
}
log "apt-get install $*"
if ! install "$@" 2>/dev/null; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq
    install "$@"
fi
