# qemu-system-x86_64: the `pc` board (i440FX), enough to boot a Linux kernel with -kernel and
# -initrd on SeaBIOS, plus isa-debug-exit for firmware that wants to end QEMU with a status.
CONFIG_I440FX=y
CONFIG_ISA_DEBUG=y
