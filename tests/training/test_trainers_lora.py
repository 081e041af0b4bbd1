"""LoRA: AutoAct per-agent adapters in the layout vLLM's `--lora-modules` loads; GLPFT in LoRA mode."""

import json
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "trainer_fixtures"
sys.path.insert(0, str(Path(__file__).parents[1] / "support"))  # tiny_models, by path (see there)

import tiny_models
from workforce_train.trainers import autoact, glpft
from workforce_train.trainers.lora import AdapterError, LoraSettings, check_vllm_layout, wrap

# Generous: a loaded shared machine is slow; on an idle 2-core CI runner the module takes about a minute.
pytestmark = pytest.mark.timeout(1500)

FAST = dict(max_steps=3, batch_size=3, warmup_ratio=0.0, save_steps=1000, logging_steps=1, progress=False)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(tiny_models.make_tiny_model(tmp_path_factory.mktemp("base")))


def logits(model, tok, text="Question: who?\n### Response:\n"):
    import torch

    with torch.no_grad():
        return model(**tok(text, return_tensors="pt")).logits


def test_autoact_adapters_load_in_vllm_layout_and_with_peft(base, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = autoact.AutoActConfig(
        model=base, data_dir=str(FIXTURES / "autoact"), output_dir=str(tmp_path), agents=["plan", "tool"],
        max_length=256, base=FAST,
    )  # fmt: skip
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.target_modules, cfg.epochs, cfg.learning_rate) == (
        8,
        16,
        ["q_proj", "v_proj"],
        5,
        1e-4,
    )  # AutoAct's settings are the defaults
    cfg.learning_rate = 5e-3  # a few steps must move a random model
    results = autoact.run_autoact(cfg)
    assert set(results) == {"plan", "tool"}

    tok = AutoTokenizer.from_pretrained(base)
    plain = logits(AutoModelForCausalLM.from_pretrained(base), tok)
    for agent in ("plan", "tool"):
        adapter = tmp_path / agent
        config = check_vllm_layout(adapter)  # adapter_config.json + adapter_model.safetensors, LORA, q/v
        assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
        assert (config["r"], config["lora_alpha"]) == (8, 16)
        assert not (adapter / "model.safetensors").exists()  # an adapter, not a full copy
        loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter))
        assert (logits(loaded, tok) - plain).abs().max() > 1e-4  # the trained weights are in the adapter


def test_unknown_target_modules_are_an_error(base):
    from transformers import AutoModelForCausalLM

    with pytest.raises(AdapterError, match=r"\['query_key_value'\] are not linear layers"):
        wrap(AutoModelForCausalLM.from_pretrained(base), LoraSettings(target_modules=["query_key_value"]))


def test_vllm_layout_check_rejects_incomplete_adapter(tmp_path):
    (tmp_path / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "target_modules": ["q_proj"]})
    )
    with pytest.raises(AdapterError, match="missing adapter_model.safetensors"):
        check_vllm_layout(tmp_path)


def test_glpft_plan_uses_alpha_umi_defaults(tmp_path):
    cfg = glpft.GLPFTConfig(model="base", data_dir=str(FIXTURES / "glpft"), output_dir=str(tmp_path))
    stages = glpft.plan(cfg)
    assert [name for name, _ in stages] == ["backbone", "planner", "caller", "summarizer"]
    hyper = {name: (s.epochs, s.learning_rate) for name, s in stages}
    assert hyper == {
        "backbone": (2, 5e-5),
        "planner": (1, 1e-5),
        "caller": (1, 1e-5),
        "summarizer": (2, 1e-5),
    }
    assert all(s.format == "alpha_umi" and s.max_length == 4096 and s.lora is None for _, s in stages)
    assert all(s.model == str(tmp_path / "backbone") for _, s in stages[1:])  # roles start from the backbone


def test_glpft_lora_two_stages_start_roles_from_merged_backbone(base, tmp_path):
    cfg = glpft.GLPFTConfig(
        model=base, data_dir=str(FIXTURES / "glpft"), output_dir=str(tmp_path), mode="lora",
        roles=["caller"], max_length=256, base=FAST,
        stages={"backbone": glpft.Stage(1, 5e-3), "caller": glpft.Stage(1, 5e-3)},
    )  # fmt: skip
    stages = dict(glpft.plan(cfg))
    assert stages["caller"].model == str(tmp_path / "backbone" / "merged")
    results = glpft.run_glpft(cfg)
    assert results["backbone"]["merged_dir"] == str(tmp_path / "backbone" / "merged")
    assert (tmp_path / "backbone" / "merged" / "model.safetensors").is_file()
    check_vllm_layout(tmp_path / "caller")
    assert results["caller"]["global_step"] == 3
    # a second run skips both finished stages
    assert glpft.run_glpft(cfg)["caller"] == results["caller"]


def test_settings_in_the_wrong_place_are_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"\['learning_rate'\] are set per stage"):
        glpft.GLPFTConfig(model="m", data_dir=".", output_dir=".", base={"learning_rate": 1.0})
    with pytest.raises(ValueError, match="top level of the AutoAct config"):
        autoact.AutoActConfig(model="m", data_dir=".", output_dir=".", base={"epochs": 1})


def test_glpft_missing_stage_data_is_a_clear_error(tmp_path):
    cfg = glpft.GLPFTConfig(model="base", data_dir=str(tmp_path), output_dir=str(tmp_path / "out"))
    with pytest.raises(FileNotFoundError, match="no train_backbone.json"):
        glpft.plan(cfg)
