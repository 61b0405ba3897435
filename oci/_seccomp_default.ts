/**
 * The RuntimeDefault seccomp profile as data: the allowlist containerd ships as its default
 * (`contrib/seccomp/seccomp_default.go`, itself Docker's `profiles/seccomp/default.json`),
 * with the rules that depend on the architecture and on the container's bounding
 * capabilities. Everything not allowed fails with EPERM (SCMP_ACT_ERRNO, no errnoRet).
 *
 * Facts, not code, carry over: the lists below follow containerd main as of 2026; `ptrace`
 * is allowed unconditionally because containerd allows it on kernels >= 4.8 (which fixed
 * the seccomp bypass through ptrace) and sauropod supports nothing older.
 *
 * @module
 */
import type { LinuxSeccomp, LinuxSyscall } from "./spec.ts";

/** Syscalls every container may make. */
// deno-fmt-ignore
const ALLOWED: readonly string[] = [
  "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
  "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
  "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
  "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
  "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
  "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
  "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
  "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown",
  "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
  "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
  "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
  "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
  "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
  "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
  "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
  "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
  "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
  "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
  "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
  "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
  "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
  "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
  "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
  "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
  "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
  "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
  "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
  "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect", "open", "openat",
  "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "poll", "ppoll",
  "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
  "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read",
  "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
  "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
  "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
  "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
  "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
  "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
  "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
  "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
  "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
  "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
  "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
  "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
  "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
  "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
  "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
  "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair", "splice",
  "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
  "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
  "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
  "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
  "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
  "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
  "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
  "writev",
];

/**
 * personality(2) personas allowed: PER_LINUX (0), PER_LINUX32 (8), UNAME26 (0x20000),
 * PER_LINUX32|UNAME26 (0x20008), and 0xffffffff (a query of the current persona).
 */
const PERSONAS: readonly number[] = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** Seccomp architectures and extra syscalls per Deno/Go architecture name. */
const ARCHES: Readonly<Record<string, { arches: string[]; extra: string[] }>> = {
  x86_64: {
    arches: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    extra: ["arch_prctl", "modify_ldt"],
  },
  aarch64: {
    arches: ["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"],
    extra: [
      "arm_fadvise64_64",
      "arm_sync_file_range",
      "sync_file_range2",
      "breakpoint",
      "cacheflush",
      "set_tls",
    ],
  },
  riscv64: { arches: ["SCMP_ARCH_RISCV64"], extra: ["riscv_flush_icache"] },
  s390x: {
    arches: ["SCMP_ARCH_S390", "SCMP_ARCH_S390X"],
    extra: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
  },
  ppc64le: { arches: ["SCMP_ARCH_PPC64LE"], extra: ["sync_file_range2", "swapcontext"] },
};

/** Syscalls a bounding capability unlocks. */
const BY_CAPABILITY: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  // deno-fmt-ignore
  CAP_SYS_ADMIN: [
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
    "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
    "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
    "syslog", "umount", "umount2", "unshare",
  ],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "init_module", "finit_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: [
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
  ],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYSLOG: ["syslog"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
};

/**
 * CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
 * CLONE_NEWCGROUP: without CAP_SYS_ADMIN, clone(2) may not create namespaces.
 */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const ENOSYS = 38;

/**
 * The RuntimeDefault profile for a container with the given bounding capabilities on the
 * given architecture (`Deno.build.arch` names: `x86_64`, `aarch64`…). Unknown architectures
 * get the portable rules and an empty architecture list, as containerd does.
 */
export function defaultSeccompProfile(bounding: readonly string[], arch: string): LinuxSeccomp {
  const allow = (names: readonly string[]): LinuxSyscall => ({
    names: [...names],
    action: "SCMP_ACT_ALLOW",
  });
  const syscalls: LinuxSyscall[] = [allow(ALLOWED)];
  for (const persona of PERSONAS) {
    syscalls.push({
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: persona, op: "SCMP_CMP_EQ" }],
    });
  }
  const a = ARCHES[arch];
  if (a) syscalls.push(allow(a.extra));
  for (const cap of bounding) {
    const names = BY_CAPABILITY[cap];
    if (names) syscalls.push(allow(names));
  }
  if (!bounding.includes("CAP_SYS_ADMIN")) {
    // s390 passes the clone flags in the second argument.
    const index = arch === "s390x" ? 1 : 0;
    syscalls.push({
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    });
    // clone3 passes its flags in a struct seccomp cannot inspect: answer ENOSYS so libcs
    // fall back to clone (moby/moby#42681) instead of failing with EPERM.
    syscalls.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS });
  }
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: a ? [...a.arches] : [],
    syscalls,
  };
}
