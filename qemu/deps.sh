#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those that are missing. A package
# written NAME@backports comes from bookworm-backports (the apt source is added if needed).
# Runs as root (CI and dev machines here are root), or with sudo.
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
BACKPORTS_LIST=/etc/apt/sources.list.d/cannonball-backports.sources

# Adds bookworm-backports (with deb-src, for the QEMU source) from the mirror apt already uses.
ensure_backports() {
  [ -f "$BACKPORTS_LIST" ] && return 0
  local mirror
  mirror=$(grep -hoE '^URIs: *\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}' || true)
  [ -n "$mirror" ] || mirror=$(grep -hoE '^deb +\S+/debian/? ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}' || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  echo "cannonball: adding apt source bookworm-backports (deb, deb-src) from $mirror" >&2
  printf 'Types: deb deb-src\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
    | $SUDO tee "$BACKPORTS_LIST" >/dev/null
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
}

if [ "${1:-}" = "--backports-source" ]; then
  ensure_backports
  exit 0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

plain=(); backports=()
for p in "$@"; do
  case "$p" in
    *@backports) installed "${p%@backports}" || backports+=("${p%@backports}") ;;
    *) installed "$p" || plain+=("$p") ;;
  esac
done
log=$(mktemp)
if [ ${#plain[@]} -gt 0 ]; then
  echo "cannonball: installing Debian packages: ${plain[*]}" >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >"$log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${plain[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; echo "cannonball: error: apt-get install ${plain[*]} failed" >&2; exit 1; }
fi
if [ ${#backports[@]} -gt 0 ]; then
  ensure_backports
  echo "cannonball: installing Debian packages from bookworm-backports: ${backports[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm-backports "${backports[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; echo "cannonball: error: apt-get install ${backports[*]} failed" >&2; exit 1; }
fi
rm -f "$log"
