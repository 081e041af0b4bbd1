"""The values examples of docs/deploy.md render: every ```yaml block there is a values file (the doc says so
at its top), rendered over the least the doc says any install needs (an API key, and an LLM endpoint when
the block brings none), so a documented example cannot rot."""

import re
import subprocess

import pytest
import yaml

from tests.chart.helm import KUBE_VERSION, ROOT, by_kind, container_env, render, render_text, tool

DOC = ROOT / "docs" / "deploy.md"
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
NEEDED = {"auth": {"apiKeys": "docs:key"}}
AN_LLM = {"llm": {"baseUrl": "https://llm.example.com/v1"}}


def blocks() -> list[tuple[int, dict]]:
    """(line, values) of every ```yaml block of docs/deploy.md."""
    text = DOC.read_text()
    return [(text.count("\n", 0, m.start()) + 1, yaml.safe_load(m.group(1))) for m in BLOCK.finditer(text)]


def base_for(values: dict) -> dict:
    has_llm = (
        (values.get("llm") or {}).get("baseUrl")
        or (values.get("vllm") or {}).get("enabled")
        or (values.get("modelServer") or {}).get("enabled")
    )
    return NEEDED if has_llm else NEEDED | AN_LLM


def nulls(node, path=""):
    """Paths of null values: a default the template expected and did not get."""
    if node is None:
        return [path]
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in nulls(v, f"{path}[{i}]")]
    return []


def test_the_doc_has_the_examples_it_promises():
    found = blocks()
    assert len(found) >= 8
    assert all(isinstance(values, dict) and values for _, values in found), "a yaml block that is not values"
    assert any("vllm" in values for _, values in found) and any("training" in values for _, values in found)


@pytest.mark.parametrize("line, values", blocks(), ids=lambda x: f"line-{x}" if isinstance(x, int) else "")
def test_every_values_example_renders_complete_manifests(line, values):
    docs = render(values=[base_for(values), values])
    assert by_kind(docs, "Deployment"), f"docs/deploy.md:{line}"
    for doc in docs:
        assert not nulls(doc), f"docs/deploy.md:{line}: {doc['kind']} {doc['metadata']['name']}: {nulls(doc)}"
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            empty = [a for a in c.get("args", []) if isinstance(a, str) and a.endswith("=")]
            assert not empty, f"docs/deploy.md:{line}: {doc['metadata']['name']} gets flags without a value"


def test_the_h100_example_serves_vllm_with_the_documented_defaults():
    (values,) = [v for _, v in blocks() if (v.get("vllm") or {}).get("enabled")]
    docs = render(values=[base_for(values), values])
    deps = by_kind(docs, "Deployment")
    (vllm,) = [d for n, d in deps.items() if n.endswith("-vllm-qwen")]
    (c,) = vllm["spec"]["template"]["spec"]["containers"]
    for flag in ("--gpu-memory-utilization=0.9", "--dtype=auto", "--max-loras=4", "--max-lora-rank=64",
                 "--max-model-len=32768", "--tensor-parallel-size=2", "--lora-modules"):
        assert flag in c["args"], c["args"]
    assert c["resources"]["requests"]["memory"] == "64Gi"  # serverDefaults
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "2"
    (pvc,) = by_kind(docs, "PersistentVolumeClaim").values()
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"] and pvc["spec"]["resources"]["requests"]["storage"]
    gateway = next(d for n, d in deps.items() if n.endswith("-gateway"))
    env = container_env(gateway["spec"]["template"]["spec"]["containers"][0])
    assert env["WF_LLM_BASE_URL"] == f"http://{vllm['metadata']['name']}:8000/v1"


def test_every_values_example_validates_strictly(tmp_path):
    manifest = tmp_path / "docs.yaml"
    manifest.write_text("\n---\n".join(render_text(values=[base_for(v), v]) for _, v in blocks()))
    done = subprocess.run([tool("kubernetes-validate"), "--strict", "-k", KUBE_VERSION, str(manifest)],
                          check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
