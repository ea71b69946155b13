# qemu-system-aarch64: the `virt` board (see riscv64-softmmu.mak for why the list is short).
CONFIG_ARM_VIRT=y
