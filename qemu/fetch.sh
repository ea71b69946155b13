#!/usr/bin/env bash
# Downloads the pinned QEMU source tarball (Debian's source package from bookworm-backports)
# into $1 and checks its hash. Debian's .dsc/.debian.tar.xz currently 404, so `apt-get source`
# exits non-zero even when the tarball arrived: we trust the hash, not the exit status.
set -euo pipefail
dest=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pin.env"

mkdir -p "$dest"
tarball="$dest/$QEMU_TARBALL"
if [ -f "$tarball" ] && echo "$QEMU_SHA256  $tarball" | sha256sum -c --quiet - 2>/dev/null; then
  exit 0
fi

"$here/deps.sh" --backports-source

echo "cannonball: downloading QEMU $QEMU_VERSION source ($QEMU_TARBALL)" >&2
( cd "$dest" && apt-get source --download-only "qemu=$QEMU_DEBIAN_VERSION" >/dev/null 2>&1 || true )
if [ ! -f "$tarball" ]; then
  ( cd "$dest" && apt-get source --download-only qemu >/dev/null 2>&1 || true )
fi
if [ ! -f "$tarball" ]; then
  echo "cannonball: error: could not download $QEMU_TARBALL via apt-get source (is bookworm-backports reachable?)" >&2
  exit 1
fi
if ! echo "$QEMU_SHA256  $tarball" | sha256sum -c --quiet - ; then
  echo "cannonball: error: $tarball does not match the pinned sha256 $QEMU_SHA256" >&2
  rm -f "$tarball"
  exit 1
fi
