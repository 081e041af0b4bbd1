"""The seccomp filter of every sandboxed run, built with libseccomp (through pyseccomp).

It is what keeps a run off the network when the executor cannot create namespaces (the chart's non-root pod
with every capability dropped): it needs no privilege, only no_new_privs, and it holds for every process the
run starts — a subprocess, a shell, a static binary — unlike a Python-level hook. Refused (EACCES/EPERM):
  - socket() of any family and socketpair() other than AF_UNIX pairs: no TCP, UDP, raw, netlink or unix
    connections, so no NATS, no other port, no DNS; io_uring (which can open sockets itself);
  - ptrace, process_vm_readv/writev: no reading another process's memory;
  - kill/tkill/tgkill/pidfd_open aimed at the executor (its pid, its process group, its parent) and kill(-1):
    a run cannot stop the executor;
  - new namespaces (unshare, setns, clone with CLONE_NEW*; clone3 answers ENOSYS so libc falls back to clone),
    mount, umount2, pivot_root, bpf, perf_event_open, userfaultfd, keyctl, add_key, request_key.
Syscalls of a foreign architecture (32-bit or x32 entry points on x86-64) kill the process (libseccomp's
default for architectures not in the filter).

Imported by boot.py (as a top-level module, next to it) and by runner.py (to check it works here).
"""

import errno
import socket

CLONE_NEW = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
ALWAYS_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns", "mount", "umount2", "pivot_root",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "kexec_load",
    "open_by_handle_at",
)
NETWORK_DENIED = ("io_uring_setup", "io_uring_enter", "io_uring_register")
LOW32 = 0xFFFFFFFF


def build(protect: list[int], network: bool):
    """The filter (not loaded): `protect` are pids (and process groups) the run may not signal."""
    import pyseccomp as sc

    deny = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    if not network:
        f.add_rule(sc.ERRNO(errno.EACCES), "socket")
        f.add_rule(sc.ERRNO(errno.EACCES), "socketpair", sc.Arg(0, sc.NE, socket.AF_UNIX))
        for name in NETWORK_DENIED:
            f.add_rule(deny, name)
    for name in ALWAYS_DENIED:
        f.add_rule(deny, name)
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for bit in CLONE_NEW.values():
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
    # pids are compared on their low 32 bits: the kernel may see an int argument sign-extended or not
    f.add_rule(deny, "kill", sc.Arg(0, sc.MASKED_EQ, LOW32, -1 & LOW32))
    for pid in protect:
        for target in (pid, -pid):
            f.add_rule(deny, "kill", sc.Arg(0, sc.MASKED_EQ, LOW32, target & LOW32))
        for name in ("tkill", "tgkill", "pidfd_open"):
            f.add_rule(deny, name, sc.Arg(0, sc.MASKED_EQ, LOW32, pid & LOW32))
    return f


def install(protect: list[int], network: bool) -> None:
    """Load the filter into this process (inherited by everything it starts). Needs no_new_privs."""
    build(protect, network).load()


def available() -> tuple[bool, str]:
    """Whether the filter can be built here (libseccomp present, this architecture known), and why not."""
    try:
        build([1], False)
    except (ImportError, RuntimeError, OSError, ValueError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""
