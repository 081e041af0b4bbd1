"""The sandbox executor's runner (in-process, as the executor uses it) against escape attempts: each ends with
a clear error, and the executor stays healthy. tests/sandbox/test_isolation.py runs the executor itself as
the chart deploys it (its uid, no capabilities) and attacks it over gRPC."""

import asyncio
import os
import sys
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from workforce.sandbox.limits import SandboxSettings
from workforce.sandbox.netns import namespaces_available
from workforce.sandbox.runner import Sandbox

LIMITS = dict(code_cpu_s=30, code_wall_s=60, code_memory_mb=1024, code_nproc=32, code_output_bytes=64 * 1024)


def _sandbox(**extra) -> Sandbox:
    return Sandbox(SandboxSettings(**(LIMITS | extra)))


@pytest.fixture
def workdir():
    root = Path(tempfile.mkdtemp(prefix="wf-sbx-"))
    path = root / "code"
    path.mkdir()
    yield path


def _leftovers(sandbox: Sandbox) -> list[int]:
    """Processes still running as one of the sandbox's uids."""
    low, high = sandbox.uids.base, sandbox.uids.base + sandbox.uids.SIZE
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if low <= entry.stat().st_uid < high:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


async def _healthy(sandbox: Sandbox, workdir: Path) -> None:
    """A normal run still works afterwards (a fresh sandbox of the same process: the same uid pool)."""
    result = await _sandbox(
        code_wall_s=120, code_cpu_s=60, code_isolation=sandbox.settings.code_isolation
    ).run("python", "import numpy, sympy\nprint(int(numpy.arange(5).sum()), sympy.sqrt(8))", workdir)
    assert result.ok and result.stdout.decode().split() == ["10", "2*sqrt(2)"], result
    assert _leftovers(sandbox) == []


requires_namespaces = pytest.mark.skipif(
    not namespaces_available(True)[0],
    reason="Linux namespaces unavailable here: " + namespaces_available(True)[1],
)


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the host's loopback that must never hear from the sandbox."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    stop.set()
    server.close()


@requires_namespaces
async def test_runs_python_with_the_data_stack(workdir):
    sandbox = _sandbox()
    assert sandbox.isolation == "namespaces"
    result = await sandbox.run(
        "python", "import pandas as pd\nprint(pd.DataFrame({'a': [1, 2, 3]})['a'].sum())", workdir
    )
    assert result.ok and result.stdout == b"6\n" and result.exit_code == 0
    failing = await sandbox.run(
        "python", "import sys\nprint('to stderr', file=sys.stderr)\nsys.exit(3)", workdir
    )
    assert failing.exit_code == 3 and failing.stderr == b"to stderr\n" and not failing.ok


@requires_namespaces
async def test_no_network(workdir, listener):
    port, accepted = listener
    sandbox = _sandbox()
    code = f"""
import socket
for target in [("127.0.0.1", {port}), ("1.1.1.1", 80)]:
    try:
        socket.create_connection(target, timeout=2)
        print("connected", target)
    except OSError as exc:
        print("refused", target, exc.errno)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("resolved")
except OSError:
    print("no dns")
"""
    result = await sandbox.run("python", code, workdir)
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("refused ('127.0.0.1'") and lines[1].startswith("refused ('1.1.1.1'")
    assert lines[2] == "no dns" and accepted == []
    await _healthy(sandbox, workdir)


@requires_namespaces
async def test_cannot_read_outside_the_work_directory(workdir):
    secret_dir = Path(tempfile.mkdtemp(prefix="wf-secret-", dir="/var/lib"))  # 0700, outside /tmp
    secret = secret_dir / "token.txt"
    secret.write_text("top secret")
    secret.chmod(0o600)
    (Path(tempfile.gettempdir()) / "wf-host-marker").write_text("host tmp")
    # a world-readable mounted secret, as Kubernetes mounts service-account tokens
    made_secrets = not Path("/run/secrets").exists()
    token = Path("/run/secrets/wf-test-token")
    token.parent.mkdir(exist_ok=True)
    token.write_text("token")
    token.chmod(0o644)
    code = f"""
import os
paths = [{str(secret)!r}, "/proc/{os.getpid()}/environ", "/tmp/wf-host-marker", "/root/.bash_history",
         "/run/secrets/wf-test-token"]
for path in paths:
    try:
        print("read", open(path).read()[:20])
    except OSError as exc:
        print("denied", type(exc).__name__)
print("tmp", sorted(os.listdir("/tmp")))
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("env", sorted(k for k in os.environ if k.startswith("WF_")))
open("/tmp/scratch.txt", "w").write("private tmp")
"""
    os.environ["WF_SANDBOX_TEST_SECRET"] = "hidden"
    try:
        result = await _sandbox().run("python", code, workdir)
    finally:
        del os.environ["WF_SANDBOX_TEST_SECRET"]
        shutil.rmtree(secret_dir)
        token.unlink()
        if made_secrets:
            token.parent.rmdir()
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "denied PermissionError", result  # another user's file
    assert lines[1] == "denied FileNotFoundError"  # the worker's process is not even visible
    assert lines[2] == "denied FileNotFoundError"  # the host's /tmp is not this /tmp
    assert lines[3] in ("denied PermissionError", "denied FileNotFoundError")  # root's home
    assert lines[4] == "denied FileNotFoundError"  # mounted secrets are covered
    # Only the work directory, plus the interpreter's own directory when Python is installed under /tmp.
    interpreter = [Path(os.path.realpath(sys.prefix)).parts[2]] if os.path.realpath(sys.prefix).startswith("/tmp/") else []
    assert lines[5] == f"tmp {sorted(['work', *interpreter])}"
    assert lines[6] == "pids [1]"  # its own pid namespace
    assert lines[7] == "env []"
    assert not (Path(tempfile.gettempdir()) / "scratch.txt").exists()


@requires_namespaces
async def test_fork_bomb(workdir):
    sandbox = _sandbox(code_wall_s=8)
    result = await sandbox.run("python", "import os\nwhile True:\n    os.fork()", workdir)
    assert not result.ok
    text = result.stderr.decode() + " ".join(result.errors)
    assert "Resource temporarily unavailable" in text or "limit" in text, text
    assert _leftovers(sandbox) == []
    await _healthy(sandbox, workdir)


@requires_namespaces
async def test_allocating_10_gb_fails(workdir):
    sandbox = _sandbox()
    result = await sandbox.run("python", "block = bytearray(10 * 1024**3)\nprint('allocated')", workdir)
    assert result.exit_code == 1 and b"MemoryError" in result.stderr and b"allocated" not in result.stdout
    await _healthy(sandbox, workdir)


@requires_namespaces
async def test_infinite_loop_hits_the_cpu_limit(workdir):
    sandbox = _sandbox(code_cpu_s=1, code_wall_s=30)
    result = await sandbox.run("python", "while True:\n    pass", workdir)
    assert result.errors == ["CPU-time limit of 1 s exceeded: the run was killed"]
    await _healthy(sandbox, workdir)


@requires_namespaces
async def test_sleeping_and_daemonised_children_are_killed_at_the_wall_limit(workdir):
    sandbox = _sandbox(code_wall_s=2)
    code = """
import os, subprocess, time
subprocess.Popen(["sleep", "600"], start_new_session=True)   # escapes the process group
print("started", flush=True)
time.sleep(600)
"""
    result = await sandbox.run("python", code, workdir)
    assert result.errors == ["wall-time limit of 2 s exceeded: the run was killed"]
    assert result.stdout == b"started\n" and result.duration_s < 6
    assert _leftovers(sandbox) == []


@requires_namespaces
async def test_huge_output_is_capped(workdir):
    sandbox = _sandbox()
    result = await sandbox.run("python", "while True:\n    print('x' * 10000)", workdir)
    assert result.errors == ["output limit of 65536 bytes exceeded: the run was stopped"]
    assert len(result.stdout) == 65536 and result.duration_s < 5
    await _healthy(sandbox, workdir)


@requires_namespaces
async def test_file_size_limit(workdir):
    sandbox = _sandbox(code_file_mb=1)
    result = await sandbox.run("python", "open('big.bin', 'wb').write(b'x' * 5_000_000)", workdir)
    assert not result.ok and (b"File too large" in result.stderr or "SIGXFSZ" in " ".join(result.errors)), (
        result
    )
    assert (workdir / "big.bin").stat().st_size <= 1024 * 1024


async def test_shell_runs_in_the_same_sandbox(workdir):
    sandbox = _sandbox()
    result = await sandbox.run("shell", "echo hello > note.txt && cat note.txt && id -u", workdir)
    assert result.ok and result.stdout.decode().splitlines()[0] == "hello"
    assert (workdir / "note.txt").read_text() == "hello\n"
    if sandbox.drop_uid:
        assert int(result.stdout.decode().splitlines()[1]) != 0


async def test_fallback_isolation_refuses_sockets_in_python(workdir, listener):
    """WF_CODE_ISOLATION=none: no namespaces; limits still apply and Python's sockets are refused."""
    port, accepted = listener
    sandbox = _sandbox(code_isolation="none")
    assert sandbox.isolation == "fallback"
    code = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("connected")
except PermissionError as exc:
    print("refused:", exc)
"""
    result = await sandbox.run("python", code, workdir)
    assert result.stdout.decode().strip() == "refused: network access is disabled in this sandbox"
    assert accepted == []
    memory = await sandbox.run("python", "bytearray(10 * 1024**3)", workdir)
    assert b"MemoryError" in memory.stderr
    loop = await _sandbox(code_isolation="none", code_wall_s=2).run(
        "python", "import time\ntime.sleep(60)", workdir
    )
    assert loop.errors == ["wall-time limit of 2 s exceeded: the run was killed"]
    await _healthy(sandbox, workdir)


def test_bad_isolation_setting():
    with pytest.raises(ValueError, match="WF_CODE_ISOLATION"):
        _sandbox(code_isolation="docker")


@requires_namespaces
async def test_concurrent_runs_are_separate_users(tmp_path):
    sandbox = _sandbox()
    dirs = []
    for i in range(3):
        (tmp_path / str(i) / "code").mkdir(parents=True)
        dirs.append(tmp_path / str(i) / "code")
    code = "import os, time\ntime.sleep(1)\nprint(os.getuid())"
    results = await asyncio.gather(*(sandbox.run("python", code, d) for d in dirs))
    assert all(r.ok for r in results), results
    uids = {int(r.stdout) for r in results}
    assert len(uids) == 3 and all(sandbox.uids.base <= u < sandbox.uids.base + 64 for u in uids)
    assert len(sandbox.uids.free) == sandbox.uids.SIZE and _leftovers(sandbox) == []


async def test_fallback_refuses_the_network_to_subprocesses_too(workdir, listener):
    """Without namespaces the seccomp filter is the network boundary: a shell, a child Python and a child
    that never imports the audit hook all fail to open a socket; AF_UNIX pairs (asyncio, multiprocessing)
    still work."""
    port, accepted = listener
    sandbox = _sandbox(code_isolation="none")
    assert sandbox.syscall_filter
    code = f"""
import socket, subprocess, sys
shell = subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"],
                       capture_output=True, text=True)
print("shell", shell.returncode, "Permission denied" in shell.stderr)
child = subprocess.run([sys.executable, "-c",
                        "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"],
                       capture_output=True, text=True)
print("child", child.returncode, child.stderr.strip().splitlines()[-1])
udp = subprocess.run([sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"],
                     capture_output=True, text=True)
print("udp", udp.returncode)
a, b = socket.socketpair()
a.sendall(b"x")
print("pair", b.recv(1))
"""
    result = await sandbox.run("python", code, workdir)
    lines = result.stdout.decode().splitlines()
    assert lines == ["shell 1 True", "child 1 PermissionError: [Errno 13] Permission denied", "udp 1",
                     "pair b'x'"], result
    assert accepted == []
    await _healthy(sandbox, workdir)


async def test_fallback_run_cannot_signal_the_executor_or_survive_it(workdir):
    sandbox = _sandbox(code_isolation="none", code_wall_s=3)
    code = f"""
import os, signal, subprocess
for target, sig in (({os.getpid()}, signal.SIGTERM), (-{os.getpgrp()}, signal.SIGTERM), (-1, signal.SIGKILL)):
    try:
        os.kill(target, sig)
        print("signalled", target)
    except OSError as exc:
        print("refused", exc.errno)
subprocess.Popen(["sleep", "3171"], start_new_session=True)
print("daemon started", flush=True)
"""
    result = await sandbox.run("python", code, workdir)
    assert result.stdout.decode().splitlines() == ["refused 1", "refused 1", "refused 1", "daemon started"]
    # (a duration no other test uses: the check reads every process of the machine)
    sleepers = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == "sleep3171"]
    assert sleepers == [], "a daemonised child outlived its run"
    await _healthy(sandbox, workdir)


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b"").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("code, error", [
    ("x = (1,\nprint(x)", "SyntaxError: '(' was never closed"),
    ("print(undefined_name)", "NameError: name 'undefined_name' is not defined"),
])
async def test_an_error_reads_as_python_main_py_prints_it(workdir, code, error):
    """What the model (and a person reading the failure) sees of its program's error: the program's own lines,
    no frames or paths of the launcher that runs it."""
    result = await _sandbox(code_isolation="none").run("python", code, workdir)
    stderr = result.stderr.decode()
    assert result.exit_code == 1 and stderr.rstrip().endswith(error), stderr
    assert 'File "main.py", line 1' in stderr
    assert "boot.py" not in stderr and "ast.py" not in stderr and str(workdir) not in stderr, stderr
