#!/usr/bin/env bash
# Builds the pinned QEMU (user mode and the system emulators, with TCG plugins and capstone) and
# QEMU's own C plugins, which serve as oracles and speed baselines, into target/qemu/:
#   target/qemu/bin/qemu-<target> for every guest target Cannonball supports (GUESTS below)
#   target/qemu/bin/qemu-system-<target> for every system emulator (SYSTEMS below)
#   target/qemu/share/qemu/ the firmware the system emulators load (SeaBIOS, option ROMs)
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
# The system emulators, each with only the boards listed in qemu/devices/<target>-softmmu.mak
# (--without-default-devices): a full device set would triple the cold build.
SYSTEMS=(x86_64 aarch64 arm riscv64)
TARGETS=$(printf '%s-linux-user,' "${GUESTS[@]}"; printf '%s-softmmu,' "${SYSTEMS[@]}"); TARGETS=${TARGETS%,}
# configure takes a name inside configs/devices/<target>-softmmu/: the files are copied there.
DEVICE_FLAGS=(); for s in "${SYSTEMS[@]}"; do DEVICE_FLAGS+=(--with-devices-"$s"=cannonball); done
# The --disable-* beyond the first line are host features only the system emulators' devices and
# displays would use; user mode keeps everything it needs (xattr, for instance: ls -l asks).
CONFIGURE_FLAGS=(
  --target-list="$TARGETS" --enable-plugins --enable-capstone --without-default-devices
  "${DEVICE_FLAGS[@]}"
  --disable-tools --disable-docs --disable-rust --disable-werror
  --disable-install-blobs --disable-gtk --disable-sdl --disable-vnc --disable-opengl
  --disable-slirp --disable-curl --disable-libusb --disable-usb-redir --disable-spice
  --disable-xkbcommon --disable-alsa --disable-pa --disable-jack --disable-oss --disable-pipewire
  --audio-drv-list= --disable-vhost-user --disable-libudev --disable-gnutls --disable-nettle
  --disable-gcrypt --disable-zstd --disable-bzip2 --disable-lzo --disable-snappy --disable-png
  --disable-seccomp --disable-cap-ng --disable-guest-agent
)
# The C plugins we build beside QEMU (ninja targets), by directory.
ORACLE_PLUGINS=(
  tests/tcg/plugins/libinsn.so tests/tcg/plugins/libmem.so tests/tcg/plugins/libsyscall.so
  tests/tcg/plugins/libbb.so contrib/plugins/libdrcov.so contrib/plugins/libexeclog.so
  contrib/plugins/libhotblocks.so contrib/plugins/libtraps.so
)

all_built() {
  for g in "${GUESTS[@]}"; do [ -x "$out/bin/qemu-$g" ] || return 1; done
  for s in "${SYSTEMS[@]}"; do [ -x "$out/bin/qemu-system-$s" ] || return 1; done
}
stamp=$( { cat "$here/pin.env" "$here"/patches/*.patch "$here"/devices/*.mak "$0"; echo "${CONFIGURE_FLAGS[*]}"; } \
  | sha256sum | cut -d' ' -f1)
# The stamp alone (for a developer who rebuilt by hand in target/qemu/build).
if [ "${1:-}" = "--print-stamp" ]; then echo "$stamp"; exit 0; fi
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] \
   && all_built; then
  echo "cannonball: QEMU $QEMU_VERSION is up to date in $out" >&2
  exit 0
fi

# System emulation adds pixman, libfdt (the device trees of the virt boards) and SeaBIOS (the
# PC board's firmware: Debian's build, as the +ds source tarball carries no firmware blobs).
# gcc-i686-linux-gnu: configure builds x86's option ROMs (linuxboot_dma.bin) only when it finds a
# compiler for 32-bit x86 (the host gcc has no 32-bit libgcc without it).
"$here/deps.sh" ninja-build libglib2.0-dev pkg-config flex bison libcapstone-dev python3-venv xz-utils \
  libpixman-1-dev libfdt-dev zlib1g-dev seabios make gcc-i686-linux-gnu
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
for s in "${SYSTEMS[@]}"; do cp "$here/devices/$s-softmmu.mak" "$src/configs/devices/$s-softmmu/cannonball.mak"; done

echo "cannonball: configuring and building QEMU (takes a minute or two)" >&2
t0=$(date +%s)
( cd "$out/build" && "$src/configure" "${CONFIGURE_FLAGS[@]}" > configure.log 2>&1 ) \
  || { tail -n 30 "$out/build/configure.log" >&2; echo "cannonball: error: QEMU configure failed (log: $out/build/configure.log)" >&2; exit 1; }
( cd "$out/build" && ninja "${GUESTS[@]/#/qemu-}" "${SYSTEMS[@]/#/qemu-system-}" "${ORACLE_PLUGINS[@]}" > build.log 2>&1 \
    && make -C pc-bios/optionrom linuxboot_dma.bin kvmvapic.bin >> build.log 2>&1 ) \
  || { tail -n 30 "$out/build/build.log" >&2; echo "cannonball: error: QEMU build failed (log: $out/build/build.log)" >&2; exit 1; }

rm -rf "$out/bin" "$out/plugins" "$out/include" "$out/share"
mkdir -p "$out/bin" "$out/plugins" "$out/include" "$out/share/qemu"
for g in "${GUESTS[@]}"; do cp "$out/build/qemu-$g" "$out/bin/"; done
for s in "${SYSTEMS[@]}"; do cp "$out/build/qemu-system-$s" "$out/bin/"; done
# QEMU looks for firmware in ../share/qemu beside its binary (a relocatable install).
cp "$out/build/pc-bios/optionrom/linuxboot_dma.bin" "$out/build/pc-bios/optionrom/kvmvapic.bin" \
  /usr/share/seabios/bios-256k.bin "$out/share/qemu/"
for p in "${ORACLE_PLUGINS[@]}"; do cp "$out/build/$p" "$out/plugins/"; done
cp "$src/include/qemu/qemu-plugin.h" "$out/include/"
echo "$stamp" > "$out/.stamp"
echo "cannonball: built QEMU $QEMU_VERSION in $(( $(date +%s) - t0 )) s: $out/bin, $out/plugins" >&2
