# qemu-system-arm: `virt` (Cortex-A, A32/T32) and the MPS2 boards (Cortex-M: mps2-an385 and
# friends, the usual target of bare-metal M-profile firmware; semihosting and a CMSDK UART).
CONFIG_ARM_VIRT=y
CONFIG_MPS2=y
