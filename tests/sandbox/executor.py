"""Start the sandbox executor as a separate OS process, either as the tests' own user (`start_executor`) or
as the chart deploys it (`start_executor_as`): the chart's runAsUser/runAsGroup, no supplementary groups,
every capability dropped (inheritable, bounding and ambient sets), no_new_privs (allowPrivilegeEscalation:
false) — through util-linux setpriv, which needs root to switch users.

An interpreter installed where that uid cannot reach it (a pyenv under /root, say) is made reachable first, in
a mount namespace of the executor's own, with the same code boot.py uses for runs; the container image
installs Python world-readable, which this reproduces."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
BOOT = SERVICES / "workforce" / "sandbox" / "boot.py"
VALUES = ROOT / "charts" / "workforce" / "values.yaml"

# Run as root inside `unshare --mount`: expose the interpreter's directories, then become the chart's user.
LAUNCH = """
import json, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import boot
spec = json.loads(sys.argv[2])
libc = boot._libc()
prepared = boot.prepare_expose(spec["expose"])
if prepared:
    boot.expose(libc, prepared)
os.execvp(spec["argv"][0], spec["argv"])
"""


def chart_security_context() -> dict:
    """The sandbox executor's pod and container security context as the chart renders them by default."""
    values = yaml.safe_load(VALUES.read_text())
    return {"pod": values["sandbox"]["podSecurityContext"], "container": values["sandbox"]["securityContext"]}


def interpreter_dirs() -> list[str]:
    import site

    dirs = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, *site.getsitepackages())}
    return sorted(dirs)


class Executor:
    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, work_dir: Path):
        self.proc, self.port, self.log_path, self.work_dir = proc, port, log_path, work_dir

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int:
        """The executor's own pid (below unshare/setpriv, which exec into it)."""
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def serving(self, timeout: float = 5.0) -> bool:
        with grpc.insecure_channel(self.url) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            except grpc.RpcError:
                return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def wait_ready(self, timeout: float = 60) -> "Executor":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                raise RuntimeError(f"the executor exited: {self.log_path.read_text()[-3000:]}")
            if self.serving(timeout=1):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"the executor did not start: {self.log_path.read_text()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _env(port: int, work_dir: Path, extra: dict) -> dict:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(SERVICES),
        "PYTHONUNBUFFERED": "1",
        "HOME": str(work_dir),
        "WF_GRPC_PORT": str(port),
        "WF_METRICS_PORT": "0",
        "WF_BIND_HOST": "127.0.0.1",
        "WF_SANDBOX_WORK_DIR": str(work_dir),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_executor(port: int, log_path: Path, env: dict | None = None) -> Executor:
    """The executor as this process's user (root here: namespaces and a uid per run)."""
    work_dir = Path(tempfile.mkdtemp(prefix="wf-executor-"))
    proc = subprocess.Popen([sys.executable, "-m", "workforce.services", "sandbox"],
                            env=_env(port, work_dir, env or {}), stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    return Executor(proc, port, log_path, work_dir)


def start_executor_as(uid: int, gid: int, port: int, log_path: Path, env: dict | None = None) -> Executor:
    """The executor as the chart runs it: `uid`/`gid`, no capabilities at all, no_new_privs."""
    work_dir = Path(tempfile.mkdtemp(prefix="wf-executor-"))
    os.chown(work_dir, uid, gid)
    setpriv = [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
               "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    argv = setpriv + [sys.executable, "-m", "workforce.services", "sandbox"]
    hidden = [d for d in interpreter_dirs() if _blocked(d, uid)]
    spec = {"expose": hidden, "argv": argv}
    launcher = [shutil.which("unshare"), "--mount", "--propagation", "private", "--",
                sys.executable, "-S", "-c", LAUNCH, str(BOOT), json.dumps(spec)]
    proc = subprocess.Popen(launcher, env=_env(port, work_dir, env or {}), stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    return Executor(proc, port, log_path, work_dir)


def _blocked(path: str, uid: int) -> bool:
    """Whether `uid` (not the owner, in no group) cannot traverse to `path`."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        st = os.stat(Path(*parts[:i]))
        if st.st_uid != uid and not st.st_mode & 0o001:
            return True
    return False


def can_switch_users() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "setpriv needs root to run the executor as the chart's uid"
    for tool in ("setpriv", "unshare"):
        if shutil.which(tool) is None:
            return False, f"util-linux {tool} is not installed"
    for path in (Path(__file__).resolve().parents[2], Path(sys.prefix)):
        closed = [str(p) for p in [path, *path.parents] if not p.stat().st_mode & 0o001]
        if closed:  # e.g. a checkout in a mktemp folder (mode 0700): the chart's uid could not import the code
            return False, f"{closed[0]} is closed to other users, so the executor cannot run as the chart's uid"
    done = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if done.returncode != 0:
        return False, f"unshare --mount refused: {done.stderr.decode().strip()}"
    return True, ""
