"""The sandbox as the chart deploys it, attacked from inside.

The executor runs as its own OS process with the chart's default security context (the chart's runAsUser and
runAsGroup, every capability dropped, no_new_privs), so Linux namespaces are out of reach and every run shares
the executor's uid: the weakest setting the chart allows. Next to it run a real nats-server and a real code
worker holding a secret in its environment (as the chart's worker pod holds WF_LLM_API_KEY). Model-written
code, sent over gRPC as the worker sends it, then tries to reach NATS and other ports (directly and through
subprocesses), read other processes' environments, signal the executor, and exhaust processes, memory, disk,
CPU, wall time and output. Each attempt must fail, and the executor and the worker must stay healthy.
"""

import json
import os
import socket
import threading
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.sandbox.executor import can_switch_users, chart_security_context, start_executor_as
from workforce.local.nats_server import free_port
from workforce.v1 import channel_pb2, sandbox_pb2, sandbox_pb2_grpc, worker_pb2_grpc

pytest_plugins = ["tests.workers.worker_support"]
ready, why = can_switch_users()
pytestmark = [pytest.mark.skipif(not ready, reason=why), pytest.mark.slow]

EXECUTOR_SECRET = "executor-canary-5b1e"
WORKER_SECRET = "worker-llm-key-9c2d"
LIMITS = {"WF_CODE_CPU_S": 2, "WF_CODE_WALL_S": 30, "WF_CODE_MEMORY_MB": 1024, "WF_CODE_NPROC": 32,
          "WF_CODE_OUTPUT_BYTES": 65536, "WF_CODE_FILE_MB": 1}


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the host's loopback that must never hear from the sandbox."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    stop.set()
    server.close()


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    context = chart_security_context()
    uid, gid = context["pod"]["runAsUser"], context["pod"]["runAsGroup"]
    assert context["container"]["capabilities"] == {"drop": ["ALL"]}
    assert context["container"]["allowPrivilegeEscalation"] is False
    log = tmp_path_factory.mktemp("executor") / "executor.log"
    proc = start_executor_as(uid, gid, free_port(), log, {**LIMITS, "WF_CANARY": EXECUTOR_SECRET})
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def worker(executor, nats_server, scripted_llm, tmp_path_factory):
    """A real code worker process (`workforce-service worker-code`) using the executor, with a secret."""
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
    env.update({"WF_NATS_URL": nats_server.url, "WF_LLM_BASE_URL": scripted_llm.base_url,
                "WF_LLM_API_KEY": WORKER_SECRET, "WF_SANDBOX_URL": executor.url, "WF_GRPC_PORT": str(port),
                "WF_METRICS_PORT": "0", "WF_BIND_HOST": "127.0.0.1", "WF_CODE_WALL_S": "30",
                "WF_LLM_MAX_RETRIES": "1", "PYTHONUNBUFFERED": "1"})
    log = tmp_path_factory.mktemp("worker") / "worker-code.log"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "workforce-service"), "worker-code"], env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while not _serving(f"127.0.0.1:{port}"):
        assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    yield proc, port
    proc.terminate()
    proc.wait(10)


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _run(executor, code: str, language: str = "python", timeout_s: float = 0) -> sandbox_pb2.SandboxRunResult:
    with grpc.insecure_channel(executor.url) as channel:
        return sandbox_pb2_grpc.SandboxStub(channel).Run(
            sandbox_pb2.SandboxRunRequest(language=language, source=code, timeout_s=timeout_s), timeout=60)


def _healthy(executor) -> None:
    """The executor still serves, and a normal run with the data stack works."""
    assert executor.alive() and executor.serving(), executor.log()[-3000:]
    result = _run(executor, "import numpy\nprint(int(numpy.arange(5).sum()))")
    assert result.HasField("exit_code") and result.exit_code == 0 and result.stdout == b"10\n", result


def test_the_executor_runs_as_the_chart_does(executor):
    with grpc.insecure_channel(executor.url) as channel:
        info = sandbox_pb2_grpc.SandboxStub(channel).Describe(sandbox_pb2.SandboxDescribeRequest(), timeout=10)
    # no namespaces, no uid of their own: the seccomp filter and the pod's network policy are the boundary
    assert (info.isolation, info.own_uid, info.syscall_filter, info.concurrency) == ("fallback", False, True, 1)
    result = _run(executor, "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
                            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')])")
    uid_line, caps = result.stdout.decode().splitlines()
    pod = chart_security_context()["pod"]
    assert uid_line == f"{pod['runAsUser']} {pod['runAsGroup']} []"
    assert set(json.loads(caps.replace("'", '"'))) == {"0000000000000000"}  # CapInh, Prm, Eff, Bnd, Amb


def test_no_connection_to_nats_or_any_other_port(executor, worker, nats_server, listener):
    port, accepted = listener
    monitor = f"http://127.0.0.1:{nats_server.monitor_port}/connz"
    connections_before = httpx.get(monitor).json()["num_connections"]
    targets = [("127.0.0.1", nats_server.port), ("127.0.0.1", port), ("127.0.0.1", executor.port),
               ("127.0.0.1", worker[1]), ("1.1.1.1", 80), ("::1", nats_server.port)]
    code = f"""
import socket, subprocess, sys
for host, port in {targets!r}:
    try:  # no name lookup first: straight to socket() and connect()
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(2)
        s.connect((host, port))
        print("CONNECTED", host, port)
    except OSError as exc:
        print("refused", exc.errno)
for family, kind in ((socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_UNIX, socket.SOCK_STREAM),
                     (socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_RAW)):
    try:
        socket.socket(family, kind)
        print("SOCKET", family)
    except OSError as exc:
        print("refused", exc.errno)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("RESOLVED")
except OSError:
    print("no dns")
# the subprocess bypass of a Python-level refusal: a shell, a child interpreter, a static tool
shell = subprocess.run(["bash", "-c", "echo x > /dev/tcp/127.0.0.1/{nats_server.port} && echo CONNECTED"],
                       capture_output=True, text=True)
print("shell", shell.returncode, shell.stdout.strip())
child = subprocess.run([sys.executable, "-I", "-c",
                        "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONNECTED')"],
                       capture_output=True, text=True)
print("child", child.returncode, child.stdout.strip())
"""
    result = _run(executor, code)
    lines = result.stdout.decode().splitlines()
    assert lines == ["refused 13"] * len(targets) + ["refused 13"] * 4 + ["no dns", "shell 1 ", "child 1 "], (
        result
    )
    assert accepted == []
    assert httpx.get(monitor).json()["num_connections"] == connections_before
    _healthy(executor)


def test_no_other_process_environment_or_memory(executor, worker):
    worker_proc, _ = worker
    code = f"""
import json, os
mine = {{os.getpid()}}
readable, refused = [], []
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        data = open(f"/proc/{{pid}}/environ", "rb").read()
        if int(pid) not in mine:
            readable.append([int(pid), open(f"/proc/{{pid}}/cmdline", "rb").read()[:80].decode(errors="replace")])
    except OSError:
        refused.append(int(pid))
try:
    open("/proc/{executor.pid()}/mem", "rb").read(1)
    print("MEM READ")
except OSError as exc:
    print("mem", exc.errno)
print(json.dumps({{"readable": readable, "refused": refused, "env": sorted(os.environ)}}))
"""
    result = _run(executor, code)
    mem_line, report = result.stdout.decode().splitlines()
    report = json.loads(report)
    assert mem_line in ("mem 13", "mem 1"), result
    assert report["readable"] == [], report["readable"]  # not the executor's, the worker's, nor anyone's
    assert executor.pid() in report["refused"] and worker_proc.pid in report["refused"]
    assert not {k for k in report["env"] if k.startswith("WF_")}
    assert EXECUTOR_SECRET.encode() not in result.stdout + result.stderr
    assert WORKER_SECRET.encode() not in result.stdout + result.stderr


def test_cannot_signal_the_executor(executor):
    code = f"""
import os, signal
for target in ({executor.pid()}, -{os.getpgid(executor.pid())}, -1):
    try:
        os.kill(target, signal.SIGKILL)
        print("KILLED", target)
    except OSError as exc:
        print("refused", exc.errno)
"""
    result = _run(executor, code)
    assert result.stdout.decode().splitlines() == ["refused 1"] * 3, result
    _healthy(executor)


def test_fork_bomb(executor):
    result = _run(executor, "import os\nwhile True:\n    os.fork()")
    assert not (result.HasField("exit_code") and result.exit_code == 0)
    text = result.stderr.decode() + " ".join(result.errors)
    assert "Resource temporarily unavailable" in text or "limit" in text, result
    _healthy(executor)


def test_memory(executor):
    result = _run(executor, "block = bytearray(10 * 1024**3)\nprint('allocated')")
    assert result.exit_code == 1 and b"MemoryError" in result.stderr and b"allocated" not in result.stdout
    _healthy(executor)


def test_disk(executor):
    result = _run(executor, "open('big.bin', 'wb').write(b'x' * 5_000_000)")
    assert b"File too large" in result.stderr or "SIGXFSZ" in " ".join(result.errors), result
    assert all(len(f.data) <= 1024 * 1024 for f in result.files)
    _healthy(executor)


def test_cpu_and_wall_time(executor):
    cpu = _run(executor, "while True:\n    pass")
    assert cpu.errors == ["CPU-time limit of 2 s exceeded: the run was killed"], cpu
    started = time.monotonic()
    wall = _run(executor, "import subprocess, time\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\n"
                          "print('started', flush=True)\ntime.sleep(600)", timeout_s=2)
    assert wall.errors == ["wall-time limit of 2 s exceeded: the run was killed"] and wall.stdout == b"started\n"
    assert time.monotonic() - started < 10
    survivors = _run(executor, "import os\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit() and "
                               "os.stat(f'/proc/{p}').st_uid == os.getuid() and "
                               "open(f'/proc/{p}/cmdline','rb').read().startswith(b'sleep')))")
    assert survivors.stdout == b"0\n", "a daemonised child of an earlier run is still alive"
    _healthy(executor)


def test_output(executor):
    result = _run(executor, "while True:\n    print('x' * 10000)")
    assert result.errors == ["output limit of 65536 bytes exceeded: the run was stopped"]
    assert len(result.stdout) == 65536
    _healthy(executor)


def test_a_run_leaves_nothing_for_the_next(executor):
    first = _run(executor, "import os, tempfile\nopen('left.txt', 'w').write('a')\n"
                           "open(os.path.join(tempfile.gettempdir(), 'tmp-left.txt'), 'w').write('b')\n"
                           "print(os.getcwd())")
    assert [f.path for f in first.files] == ["left.txt"]
    second = _run(executor, f"import os, tempfile\nprint([n for n in os.listdir('.') if n[0] != '.'], "
                            f"os.path.exists({first.stdout.decode().strip()!r}), "
                            f"os.path.exists(os.path.join(tempfile.gettempdir(), 'tmp-left.txt')))")
    assert second.stdout == b"[] False False\n", second


def test_bad_requests_are_refused_clearly(executor):
    with grpc.insecure_channel(executor.url) as channel:
        stub = sandbox_pb2_grpc.SandboxStub(channel)
        for request in (sandbox_pb2.SandboxRunRequest(language="ruby", source="puts 1"),
                        sandbox_pb2.SandboxRunRequest(language="python", source=" "),
                        sandbox_pb2.SandboxRunRequest(language="python", source="print(1)",
                                                      files=[sandbox_pb2.SandboxFile(path="../escape", data=b"")]),
                        sandbox_pb2.SandboxRunRequest(language="python", source="print(1)", timeout_s=-1)):
            with pytest.raises(grpc.RpcError) as error:
                stub.Run(request, timeout=10)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
    _healthy(executor)


async def test_the_worker_stays_healthy_and_uses_the_executor(executor, worker, scripted_llm):
    """After every attack above, the real code worker still serves and runs a subtask's code through the
    executor (the work directory goes there and the produced file comes back)."""
    proc, port = worker
    scripted_llm.reset()
    scripted_llm.script([
        {"role": "worker:code", "contains": "exit status: 0 (success)",
         "reply": {"content": {"content": "6 * 7 = 42", "failed": False}}},
        {"role": "worker:code", "times": 1,
         "reply": {"tool_calls": [{"name": "run_python", "arguments": {
             "code": "import os\nopen('answer.txt', 'w').write(str(6 * 7))\nprint(6 * 7, os.getuid())"}}]}},
    ])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        result = await worker_pb2_grpc.WorkerStub(channel).Run(channel_pb2.WorkItem(
            task_id="t-isolation", subtask_id="1", attempt_id="t-isolation/1/1", subtask="What is 6 * 7?",
            overall_task="arithmetic"), timeout=120)
    assert (result.content, result.failed) == ("6 * 7 = 42", False)
    assert [f.name for f in result.files] == ["answer.txt"]
    tool_output = [m for r in scripted_llm.requests() for m in r["messages"] if m.get("role") == "tool"]
    uid = chart_security_context()["pod"]["runAsUser"]
    assert any(f"42 {uid}" in m["content"] for m in tool_output), tool_output
    assert proc.poll() is None and _serving(f"127.0.0.1:{port}")
    assert WORKER_SECRET not in json.dumps(scripted_llm.requests())
