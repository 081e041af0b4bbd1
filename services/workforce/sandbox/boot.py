"""The first (and only) program of a sandboxed run; standard library only (started with `python -S`).

Run as root by `unshare` (namespace isolation) or directly by the executor (fallback). In one interpreter, so
the run pays for one Python start-up: make the mounts of the run's private view (namespaces only), set the
resource limits, drop to the run's uid, set no_new_privs, load the seccomp filter (syscall_filter.py), then
execute the code (Python in this interpreter; shell by exec of bash).

argv[1] is a JSON object: workdir, language, script, limits {name: [soft, hard]}, uid (or null),
mounts (bool), tmpfs_mb, expose (directories of the interpreter to make reachable), site (site-packages
directories), syscall_filter (bool), network (bool: runs may use the network), protect (pids the run may not
signal), block_network (bool: also the Python-level refusal, a second layer where no namespace exists).
"""

import json
import os
import resource
import signal
import sys

MS_BIND, MS_REC, MS_NOSUID, MS_NODEV = 4096, 16384, 2, 4
PR_SET_NO_NEW_PRIVS = 38
HIDDEN = ("/run/secrets", "/var/run/secrets")
CPU_EXIT = 128 + signal.SIGXCPU
CPU_MARKER = b"\n[sandbox] CPU-time limit exceeded\n"
NETWORK_EVENTS = {
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
}


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    import ctypes

    if (
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        )
        != 0
    ):
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def private_view(libc, workdir: str, tmpfs_mb: int) -> str:
    """A fresh /tmp (and /dev/shm, /var/tmp) with the work directory bound at /tmp/work; secrets hidden.

    The work directory may itself be under /tmp: the cwd keeps it reachable as "." after /tmp is covered."""
    os.chdir(workdir)
    options = f"size={tmpfs_mb}m,mode=1777"
    _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options)
    os.mkdir("/tmp/work")
    _mount(libc, ".", "/tmp/work", None, MS_BIND | MS_REC, None)
    for extra in ("/dev/shm", "/var/tmp"):
        if os.path.isdir(extra):
            _mount(libc, "tmpfs", extra, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for secrets in HIDDEN:  # e.g. Kubernetes service-account tokens, world-readable by default
        if os.path.isdir(secrets) and not os.path.islink(secrets):
            _mount(libc, "tmpfs", secrets, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.chdir("/tmp/work")
    return "/tmp/work"


def prepare_expose(paths: list[str]) -> list[tuple[str, int, str | None]]:
    """Handles on the directories to keep reachable, taken before anything is covered (a private /tmp would
    hide an interpreter installed under /tmp), with the ancestor each needs uncovered."""
    return [(p, os.open(p, os.O_PATH | os.O_DIRECTORY), _blocking_ancestor(p)) for p in paths]


def expose(libc, prepared: list[tuple[str, int, str | None]]) -> None:
    """Make directories reachable that sit below a directory others may not enter (a pyenv Python under
    /root, say) or below a directory the sandbox covered (/tmp): a blocking ancestor is covered with an empty
    tmpfs, then each directory is bound back at its own path."""
    covered = set()
    for path, _, blocker in prepared:
        if blocker and blocker not in covered:
            os.makedirs(blocker, mode=0o755, exist_ok=True)  # gone when it was below the private /tmp
            _mount(libc, "tmpfs", blocker, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            covered.add(blocker)
    for path, fd, _ in prepared:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        os.close(fd)


def _blocking_ancestor(path: str) -> str | None:
    """The highest directory above `path` that others cannot traverse."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:i])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def drop_privileges(libc, uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # from root to another uid: every capability is gone
    no_new_privs(libc)


def no_new_privs(libc) -> None:
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")


def _on_cpu_limit(*_):
    os.write(2, CPU_MARKER)
    os._exit(CPU_EXIT)


def _no_network(event, args):
    if event in NETWORK_EVENTS:
        raise PermissionError("network access is disabled in this sandbox")


def main() -> None:
    config = json.loads(sys.argv[1])
    libc = _libc() if config["mounts"] or config["uid"] is not None or config["syscall_filter"] else None
    syscall_filter = None
    if config["syscall_filter"]:  # imported before the mounts: a checkout under /tmp is hidden by the private /tmp
        sys.path[:0] = config["site"]
        import syscall_filter
    if config["mounts"]:
        prepared = prepare_expose(config["expose"])
        home = private_view(libc, config["workdir"], config["tmpfs_mb"])
        if prepared:
            expose(libc, prepared)
    else:
        os.chdir(config["workdir"])
        home = config["workdir"]
    os.environ["HOME"] = home
    seccomp = None
    if syscall_filter is not None:  # built before the limits apply; loaded after the uid is dropped
        seccomp = syscall_filter.build(config["protect"], config["network"])
        del sys.path[: len(config["site"])]
    for name, (soft, hard) in config["limits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    if config["uid"] is not None:
        drop_privileges(libc, config["uid"])
    if seccomp is not None:
        no_new_privs(libc)
        seccomp.load()
    if config["language"] == "shell":
        os.execv("/bin/bash", ["bash", "--noprofile", "--norc", config["script"]])

    signal.signal(signal.SIGXCPU, _on_cpu_limit)
    if config["block_network"]:
        sys.addaudithook(_no_network)
    import types

    sys.path[:] = ["", *[p for p in sys.path[1:] if p], *config["site"]]
    sys.argv = ["main.py"]
    with open(config["script"], encoding="utf-8") as handle:
        source = handle.read()
    module = types.ModuleType("__main__")
    module.__file__ = "main.py"
    sys.modules["__main__"] = module
    try:
        code, last = _notebook_style(source)
    except (SyntaxError, ValueError) as exc:  # as `python main.py` prints it: no frames of this launcher
        import traceback

        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        sys.stderr.flush()
        os._exit(1)
    try:
        exec(code, module.__dict__)
        if last is not None:  # as in a notebook: the value of a final bare expression is shown
            value = eval(last, module.__dict__)
            if value is not None:
                print(repr(value))
    except SystemExit:
        raise
    except BaseException as exc:  # the traceback of the code alone, as `python main.py` would print it
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        sys.stderr.flush()
        os._exit(1)


def _notebook_style(source: str):
    """(code of every statement, code of a final bare expression or None)."""
    import ast

    tree = ast.parse(source, "main.py")
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
        return compile(tree, "main.py", "exec"), compile(last, "main.py", "eval")
    return compile(tree, "main.py", "exec"), None


if __name__ == "__main__":
    main()
