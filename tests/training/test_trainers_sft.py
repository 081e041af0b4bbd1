"""SFT on tiny random models: the loss on the targets falls, DeepSpeed ZeRO-2 runs on CPU, runs resume."""

import json
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "trainer_fixtures"
sys.path.insert(0, str(Path(__file__).parents[1] / "support"))  # tiny_models, by path (see there)

import tiny_models
from workforce_train.io import DataError
from workforce_train.trainers import checkpoints
from workforce_train.trainers.sft import SFTConfig, build_dataset, run_sft

# Generous: a loaded shared machine is slow; on an idle 2-core CI runner the module takes about a minute.
pytestmark = pytest.mark.timeout(1500)

DATA = [str(FIXTURES / "planner_sft.jsonl"), str(FIXTURES / "glpft" / "train_caller.json")]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(tiny_models.make_tiny_model(tmp_path_factory.mktemp("base")))


def target_loss(model_dir: str, data: list[str]) -> float:
    """Mean cross-entropy over target tokens, computed here from the saved model (not the trainer's log)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    losses = []
    with torch.no_grad():
        for row in build_dataset(data, tok, 256):
            out = model(input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]]))
            losses.append(out.loss.item())
    return sum(losses) / len(losses)


def config(base, out, **kw) -> SFTConfig:
    settings = dict(
        model=base, data=DATA, output_dir=str(out), max_length=256, max_steps=12, learning_rate=3e-3,
        batch_size=4, warmup_ratio=0.0, save_steps=1000, logging_steps=1, progress=False,
    )  # fmt: skip
    settings.update(kw)
    return SFTConfig(**settings)


def test_sft_loss_falls_and_finished_run_is_skipped(base, tmp_path):
    before = target_loss(base, DATA)
    info = run_sft(config(base, tmp_path / "out"))
    after = target_loss(str(tmp_path / "out"), DATA)
    assert after < before - 0.5, (before, after)
    assert info["precision"] == "fp32" and info["global_step"] == 12
    assert checkpoints.is_complete(tmp_path / "out")

    again = run_sft(config(base, tmp_path / "out"))  # complete: nothing is trained again
    assert again == json.loads((tmp_path / "out" / checkpoints.DONE_MARKER).read_text())


def test_sft_deepspeed_zero2_on_cpu(base, tmp_path):
    info = run_sft(config(base, tmp_path / "ds", deepspeed="zero2", max_steps=2))
    assert info["deepspeed_zero_stage"] == 2
    assert info["global_step"] == 2
    assert (tmp_path / "ds" / "model.safetensors").is_file()


def test_sft_resumes_from_last_checkpoint(base, tmp_path):
    out = tmp_path / "resume"
    run_sft(config(base, out, max_steps=2, save_steps=2))
    (out / checkpoints.DONE_MARKER).unlink()  # as if the job died after its checkpoint
    info = run_sft(config(base, out, max_steps=4, save_steps=2))
    assert info["resumed_from"] == str(out / "checkpoint-2")
    assert info["global_step"] == 4


def test_bad_data_is_a_clear_error_and_writes_nothing(base, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(DataError, match=r"bad.jsonl: record 0: 'messages' must be a list of at least two"):
        run_sft(config(base, tmp_path / "never", data=[str(bad)]))
    assert not checkpoints.is_complete(tmp_path / "never")


def test_unknown_deepspeed_config_is_rejected(base, tmp_path):
    with pytest.raises(ValueError, match="DeepSpeed config 'zero9' not found"):
        run_sft(config(base, tmp_path / "x", deepspeed="zero9"))
