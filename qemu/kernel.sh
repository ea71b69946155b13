#!/usr/bin/env bash
# Fetches Debian's own x86_64 kernel (the image linux-image-amd64 depends on today) for the
# system-mode tests into $1 (default target/kernel/): vmlinuz, unpacked from the package with
# dpkg-deb (nothing is installed: no initramfs hooks run). Kept until the package's version
# changes. (Debian's /boot/System.map is a one-line placeholder; the real one is in the 860 MB
# -dbg package. The tests take the symbols from the running kernel's /proc/kallsyms.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/../target/kernel}
mkdir -p "$dest"
package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$package" ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$package" ] || { echo "cannonball: error: apt knows no linux-image-amd64" >&2; exit 1; }
if [ -f "$dest/package" ] && [ "$(cat "$dest/package")" = "$package" ] && [ -f "$dest/vmlinuz" ]; then
  exit 0
fi
echo "cannonball: downloading Debian's kernel ($package) for the system-mode tests" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download "$package" >/dev/null )
dpkg-deb -x "$work"/*.deb "$work/root"
cp "$work"/root/boot/vmlinuz-* "$dest/vmlinuz"
echo "$package" > "$dest/package"
