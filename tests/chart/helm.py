"""Render charts/workforce offline with the real Helm CLI (installed by scripts/setup.d/40-chart.sh).

The chart declares the official NATS chart as a dependency. Without network it cannot be pulled, and Helm
refuses to render a chart whose declared dependency is missing from charts/ (whatever its condition), so
unless `helm dependency build` has put nats-*.tgz there, tests render a temporary copy with the
`dependencies` entry removed: our templates (which point at the subchart's Service) render unchanged, the
NATS StatefulSet itself is not rendered.
"""

import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "workforce"
PROFILES = Path(__file__).resolve().parent / "profiles"
KUBE_VERSION = "1.33.0"  # the pinned Kubernetes version of rendering and schema validation
RELEASE, NAMESPACE = "wf", "workforce"
KEDA_API = "keda.sh/v1alpha1/ScaledObject"
CRD_KINDS = {"ScaledObject", "ServiceMonitor", "PrometheusRule"}  # no Kubernetes schema: checked by the tests


def tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make setup` (scripts/setup.d/40-chart.sh)")
    return found


@lru_cache(maxsize=1)
def chart_copy() -> Path:
    """The chart as Helm can render it here (see the module docstring)."""
    vendored = list((CHART / "charts").glob("nats-*.tgz"))
    if vendored:
        return CHART
    import atexit
    import tempfile

    tmp = tempfile.mkdtemp(prefix="wf-chart-")
    atexit.register(shutil.rmtree, tmp, True)
    target = Path(tmp) / "workforce"
    shutil.copytree(CHART, target, ignore=shutil.ignore_patterns("charts"))
    meta = yaml.safe_load((target / "Chart.yaml").read_text())
    assert [d["name"] for d in meta.pop("dependencies")] == ["nats"]
    (target / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return target


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([tool("helm"), *args], check=False, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{done.stderr}")
    return done


def profile(name: str) -> Path:
    return PROFILES / f"{name}.yaml"


def template_args(profiles=(), sets=(), api_versions=(), files=()) -> list[str]:
    args = ["template", RELEASE, str(chart_copy()), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    for p in [*map(profile, profiles), *files]:
        args += ["-f", str(p)]
    for s in sets:
        args += ["--set", s]
    for a in api_versions:
        args += ["--api-versions", a]
    return args


def render_text(profiles=(), sets=(), api_versions=(), values=()) -> str:
    """`values`: dicts given as further -f files, after the profiles, in order."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, v in enumerate(values):
            files.append(Path(tmp) / f"values-{i}.yaml")
            files[-1].write_text(yaml.safe_dump(v))
        return helm(*template_args(profiles, sets, api_versions, files)).stdout


def render(profiles=(), sets=(), api_versions=(), values=()) -> list[dict]:
    return [d for d in yaml.safe_load_all(render_text(profiles, sets, api_versions, values)) if d]


def render_error(profiles=(), sets=(), values: dict | None = None) -> str:
    """stderr of a render that must fail; `values` is merged over the profiles like another -f file."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        yaml.safe_dump(values or {}, extra)
        extra.flush()
        done = helm(*template_args(profiles, sets), "-f", extra.name, check=False)
    assert done.returncode != 0, f"rendering with {sets or values} should have failed"
    return done.stderr


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container_env(container: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
