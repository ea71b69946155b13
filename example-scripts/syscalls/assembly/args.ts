// How many arguments strace shows for common system calls (the kernel's SYSCALL_DEFINEn), by
// name so one table serves every architecture. Calls not listed print all six registers.

const COUNTS = new Map<string, i32>();

function set(n: i32, names: string): void {
  const list = names.split(" ");
  for (let i = 0; i < list.length; i++) COUNTS.set(list[i], n);
}

set(0, "rt_sigreturn sched_yield getpid fork vfork getuid getgid geteuid getegid getppid getpgrp setsid gettid pause");
set(1, "close brk exit exit_group pipe dup chdir fchdir rmdir unlink umask uname sysinfo set_tid_address");
set(1, "alarm personality epoll_create1 io_destroy syncfs fsync fdatasync");
set(2, "stat fstat lstat munmap access dup2 nanosleep kill rename mkdir getrlimit setrlimit getrusage");
set(2, "arch_prctl clock_gettime clock_getres gettimeofday set_robust_list pipe2 sigaltstack clone3");
set(2, "statfs fstatfs truncate ftruncate setpgid capget capset getcwd link symlink chmod fchmod");
set(2, "memfd_create flock shutdown listen umount2 timerfd_gettime eventfd2");
set(3, "read write open lseek mprotect ioctl readv writev madvise execve fcntl readlink mincore");
set(3, "tgkill mkdirat unlinkat faccessat dup3 getrandom getdents getdents64 sched_getaffinity");
set(3, "sched_setaffinity socket connect accept bind getsockname getpeername sendmsg recvmsg");
set(3, "get_robust_list chown fchown lchown mknod symlinkat fchmodat setresuid setresgid");
set(3, "getresuid getresgid inotify_add_watch lseek");
set(4, "rt_sigaction rt_sigprocmask pread64 pwrite64 wait4 openat newfstatat readlinkat prlimit64");
set(4, "clock_nanosleep rseq sendfile epoll_wait epoll_ctl fadvise64 faccessat2 socketpair");
set(4, "getxattr lgetxattr fgetxattr renameat accept4 mknodat timerfd_settime utimensat fallocate");
set(5, "mremap select clone waitid prctl statx ppoll linkat renameat2 fchownat mount setsockopt");
set(5, "getsockopt setxattr lsetxattr fsetxattr");
set(6, "mmap futex pselect6 sendto recvfrom epoll_pwait copy_file_range splice");
// Names only some targets have: 32-bit variants (i386, arm, mips), old calls (i386, ppc64le),
// private calls (arm, mips, riscv64).
set(0, "getuid32 getgid32 geteuid32 getegid32");
set(1, "set_tls set_thread_area umount");
set(2, "stat64 lstat64 fstat64 ugetrlimit socketcall clock_gettime64 clock_getres_time64 oldstat oldlstat");
set(3, "fcntl64 statfs64 fstatfs64 chown32 lchown32 fchown32 setresuid32 setresgid32 cacheflush");
set(3, "riscv_flush_icache truncate64 ftruncate64");
set(4, "fstatat64 send recv utimensat_time64 clock_nanosleep_time64 rt_sigtimedwait_time64");
set(5, "_llseek mq_timedsend_time64 mq_timedreceive_time64 ppoll_time64");
set(6, "mmap2 futex_time64 pselect6_time64");

/** Arguments to show for system call `name` (6 when unknown). */
export function argCount(name: string): i32 {
  return COUNTS.has(name) ? COUNTS.get(name) : 6;
}
