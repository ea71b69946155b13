# The boards Cannonball builds qemu-system-riscv64 with (qemu/build.sh passes this file as
# --with-devices-riscv64 together with --without-default-devices): only what the tests and
# docs/system.md use, to keep the cold build short.
CONFIG_RISCV_VIRT=y
