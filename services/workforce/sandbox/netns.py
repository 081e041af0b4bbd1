"""How a run is isolated from the network and from the worker.

Preferred ("namespaces"): needs util-linux `unshare` and CAP_SYS_ADMIN — root on a host, or a container
granted it (the default seccomp profiles of Docker and Kubernetes refuse unshare/mount to others).
  `unshare --net --pid --mount --fork --kill-child --mount-proc`: no network interface but a downed loopback,
  its own process tree (killing it kills every process it started, even daemonised ones); then boot.py mounts
  a private /tmp, /var/tmp and /dev/shm with the work directory at /tmp/work, covers mounted secrets
  (/run/secrets, service-account tokens), and drops to an unprivileged uid of the run's own (Unix
  permissions keep it out of other runs' and the worker's files; RLIMIT_NPROC counts that uid alone).

Fallback ("none"; when namespaces cannot be created, e.g. an unprivileged pod):
  the same limits and process group, a scrubbed environment, its own uid when the worker is root (when it
  is not, the run shares the worker's uid: keep secrets out of such a worker's environment and files), and
  for Python a `sys.addaudithook` that refuses socket operations. That hook does NOT cover child processes
  or native code: it is not a network boundary. Without its own uid, a child that leaves the process group
  (setsid) also outlives the kill at the deadline. Deploy such pods with a NetworkPolicy that denies egress
  and the stricter runtime class (gVisor) the chart offers; WF_CODE_ISOLATION=namespaces refuses to run code
  at all without namespaces.
"""

import functools
import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def namespaces_available(network_too: bool = True) -> tuple[bool, str]:
    """Whether `unshare` can create the namespaces here (tried once per process), and why not."""
    if shutil.which("unshare") is None:
        return False, "util-linux unshare is not installed"
    try:
        done = subprocess.run(namespace_prefix(not network_too) + ["true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"unshare failed: {exc}"
    if done.returncode != 0:
        return False, f"unshare refused ({done.stderr.decode(errors='replace').strip()})"
    return True, ""


def can_drop_uid() -> bool:
    return os.geteuid() == 0


def namespace_prefix(network: bool) -> list[str]:
    """Enter new pid, mount (and network) namespaces; boot.py then makes the mounts and drops privileges."""
    return [
        "unshare",
        *([] if network else ["--net"]),
        "--pid",
        "--mount",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--",
    ]
