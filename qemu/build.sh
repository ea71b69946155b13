#!/usr/bin/env bash
# Builds the pinned QEMU (user mode, with TCG plugins and capstone) and QEMU's own C plugins,
# which serve as oracles and speed baselines, into target/qemu/:
#   target/qemu/bin/qemu-<target> for every guest target Cannonball supports (GUESTS below)
#   target/qemu/plugins/lib<name>.so
# Cached: rebuilt only when the pin, the patches, the configure flags or this script change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${CANNONBALL_QEMU_DIR:-$root/target/qemu}
. "$here/pin.env"

# QEMU's names of the guest targets: 64- and 32-bit x86, ARM (AArch64 and 32-bit hard-float,
# ARM and Thumb-2), RISC-V, MIPS both byte orders, little-endian POWER.
GUESTS=(x86_64 i386 aarch64 arm riscv64 mips mipsel ppc64le)
TARGETS=$(printf '%s-linux-user,' "${GUESTS[@]}"); TARGETS=${TARGETS%,}
CONFIGURE_FLAGS=(
  --target-list="$TARGETS" --enable-plugins --enable-capstone
  --disable-system --disable-tools --disable-docs --disable-rust --disable-werror
  --disable-install-blobs --disable-gtk --disable-sdl --disable-vnc --disable-opengl
)
# The C plugins we build beside QEMU (ninja targets), by directory.
ORACLE_PLUGINS=(
  tests/tcg/plugins/libinsn.so tests/tcg/plugins/libmem.so tests/tcg/plugins/libsyscall.so
  tests/tcg/plugins/libbb.so contrib/plugins/libdrcov.so contrib/plugins/libexeclog.so
  contrib/plugins/libhotblocks.so
)

all_built() { for g in "${GUESTS[@]}"; do [ -x "$out/bin/qemu-$g" ] || return 1; done; }
stamp=$( { cat "$here/pin.env" "$here"/patches/*.patch "$0"; echo "${CONFIGURE_FLAGS[*]}"; } | sha256sum | cut -d' ' -f1)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] \
   && all_built; then
  echo "cannonball: QEMU $QEMU_VERSION is up to date in $out" >&2
  exit 0
fi

"$here/deps.sh" ninja-build libglib2.0-dev pkg-config flex bison libcapstone-dev python3-venv xz-utils
if ! python3 -c 'import mesonbuild, pycotap' 2>/dev/null; then
  echo "cannonball: installing meson 1.5.0 and pycotap 1.3.1 with pip (QEMU's configure venv is offline)" >&2
  python3 -m pip install -q meson==1.5.0 pycotap==1.3.1 >&2
fi

"$here/fetch.sh" "$out/download"

src="$out/src/qemu-$QEMU_VERSION"
echo "cannonball: unpacking and patching QEMU $QEMU_VERSION" >&2
rm -rf "$out/src" "$out/build"
mkdir -p "$out/src" "$out/build"
tar -C "$out/src" -xf "$out/download/$QEMU_TARBALL"
for p in "$here"/patches/*.patch; do
  patch -s -d "$src" -p1 < "$p"
done

echo "cannonball: configuring and building QEMU (takes a minute or two)" >&2
t0=$(date +%s)
( cd "$out/build" && "$src/configure" "${CONFIGURE_FLAGS[@]}" > configure.log 2>&1 ) \
  || { tail -n 30 "$out/build/configure.log" >&2; echo "cannonball: error: QEMU configure failed (log: $out/build/configure.log)" >&2; exit 1; }
( cd "$out/build" && ninja "${GUESTS[@]/#/qemu-}" "${ORACLE_PLUGINS[@]}" > build.log 2>&1 ) \
  || { tail -n 30 "$out/build/build.log" >&2; echo "cannonball: error: QEMU build failed (log: $out/build/build.log)" >&2; exit 1; }

rm -rf "$out/bin" "$out/plugins" "$out/include"
mkdir -p "$out/bin" "$out/plugins" "$out/include"
for g in "${GUESTS[@]}"; do cp "$out/build/qemu-$g" "$out/bin/"; done
for p in "${ORACLE_PLUGINS[@]}"; do cp "$out/build/$p" "$out/plugins/"; done
cp "$src/include/qemu/qemu-plugin.h" "$out/include/"
echo "$stamp" > "$out/.stamp"
echo "cannonball: built QEMU $QEMU_VERSION in $(( $(date +%s) - t0 )) s: $out/bin, $out/plugins" >&2
