#!/usr/bin/env bash
# Installs the system packages and Python tools needed to build QEMU (and the C guest
# toolchain), only those that are missing. Runs as root (CI and dev machines here are root).
set -euo pipefail

need_pkgs=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "cannonball: installing system packages: ${need_pkgs[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
