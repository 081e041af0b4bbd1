"""DPO with OpenRLHF itself (the pinned version, in .venv-openrlhf; run by scripts/tests.d/35-openrlhf.sh).

- our OpenRLHF-format pairs load with OpenRLHF's own RewardDataset (prompt / answer split exactly);
- OpenRLHF's DPOTrainer log-probs and DPOLoss on our data equal the formula computed here by hand;
- OpenRLHF's train_dpo, driven by the flags our command builder writes, runs on CPU and raises the
  chosen-over-rejected margin of a tiny random model.
"""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("openrlhf", reason="OpenRLHF lives in .venv-openrlhf (scripts/tests.d/35-openrlhf.sh)")

FIXTURES = Path(__file__).parent / "trainer_fixtures"
sys.path.insert(0, str(Path(__file__).parents[1] / "support"))  # tiny_models, by path (see there)

import tiny_models
import torch
import torch.nn.functional as F
from workforce_train.trainers import dpo, openrlhf_cpu

openrlhf_cpu.install()  # before any openrlhf module that imports flash_attn

from openrlhf.datasets import RewardDataset
from openrlhf.datasets.utils import blending_datasets
from openrlhf.models import Actor, DPOLoss
from openrlhf.trainer.dpo_trainer import DPOTrainer

pytestmark = pytest.mark.timeout(1500)  # generous for a loaded shared machine; about 2 minutes idle
PAIRS = FIXTURES / "planner_dpo.jsonl"
BETA = 0.1


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return tiny_models.make_tiny_model(root / "policy", seed=1), tiny_models.make_tiny_model(
        root / "ref", seed=2
    )


def load_pairs():
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


def built_pairs_file(tmp_path) -> Path:
    """The same pairs made by our OWL DPO builder from scored attempts (what a real pipeline feeds DPO)."""
    from workforce_train.data.owl.dpo import dpo_pairs, write_dpo

    records = []
    for n, pair in enumerate(load_pairs()):
        for side, correct in (("chosen", True), ("rejected", False)):
            records.append({
                "id": f"q{n}", "status": "succeeded", "score": {"value": float(correct), "correct": correct},
                "trajectory": {"planner_calls": [
                    {"kind": "plan", "messages": pair[side][:-1], "output": pair[side][-1]["content"]}]},
            })  # fmt: skip
    return write_dpo(dpo_pairs(records), tmp_path)["openrlhf"]


def openrlhf_dataset(tokenizer, max_len=256, path=PAIRS):
    args = SimpleNamespace(
        use_ms=False,
        data=SimpleNamespace(
            prompt_key=None,
            chosen_key="chosen",
            rejected_key="rejected",
            apply_chat_template=True,
            tokenizer_chat_template=None,
        ),
    )  # fmt: skip  (the `--data.*` settings our command passes)
    strategy = SimpleNamespace(args=args, print=lambda *a: None, is_rank_0=lambda: False)
    data = blending_datasets(str(path), None, strategy)
    return RewardDataset(data, tokenizer, max_len, strategy, is_dpo=True, num_processors=1)


def hand_logp(model, tokenizer, messages) -> float:
    """Sum of log p(answer tokens | prompt), from the chat template, by hand."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False).rstrip("\n")
    ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
    start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logp = F.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
    picked = logp.gather(1, ids[0, 1:, None])[:, 0]
    return picked[start - 1 :].sum().item()


@pytest.mark.parametrize("source", ["fixture", "builder"])
def test_our_pairs_load_with_openrlhf_reward_dataset(models, tmp_path, source):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models[0])
    path = PAIRS if source == "fixture" else built_pairs_file(tmp_path)
    pairs = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    assert [p["chosen"] for p in pairs] == [p["chosen"] for p in load_pairs()]
    dataset = openrlhf_dataset(tok, path=path)
    assert len(dataset) == len(pairs) == dpo.validate_file(path)
    for pair, (c_ids, _, r_ids, _, prompt_len) in zip(pairs, (dataset[i] for i in range(len(dataset)))):
        prompt = tok.apply_chat_template(pair["chosen"][:-1], tokenize=False, add_generation_prompt=True)
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        assert prompt_len == len(prompt_ids)
        assert c_ids[0, :prompt_len].tolist() == r_ids[0, :prompt_len].tolist() == prompt_ids
        assert tok.decode(c_ids[0, prompt_len:]) == pair["chosen"][-1]["content"] + "<|im_end|>"
        assert tok.decode(r_ids[0, prompt_len:]) == pair["rejected"][-1]["content"] + "<|im_end|>"


def test_openrlhf_dpo_loss_on_our_data_is_the_formula(models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models[0])
    # OpenRLHF's own loading path (bf16 weights), then fp32 math so the by-hand sums compare tightly.
    policy_actor, ref_actor = (Actor(str(m), attn_implementation="eager") for m in models)
    policy, ref = policy_actor.model.float().eval(), ref_actor.model.float().eval()
    dataset = openrlhf_dataset(tok)
    c_ids, c_mask, r_ids, r_mask, prompt_lens = dataset.collate_fn([dataset[i] for i in range(len(dataset))])

    trainer = DPOTrainer.__new__(DPOTrainer)  # only its forward/log-prob methods; no strategy needed
    trainer.tokenizer, trainer.strategy = tok, SimpleNamespace(ring_attn_group=None)
    batch = (c_ids.squeeze(1), c_mask.squeeze(1), r_ids.squeeze(1), r_mask.squeeze(1), prompt_lens)
    with torch.no_grad():
        pc, pr, _, _ = trainer.concatenated_forward(policy_actor, *batch)
        rc, rr, _, _ = trainer.concatenated_forward(ref_actor, *batch)
        loss, chosen_reward, _ = DPOLoss(BETA)(pc, pr, rc, rr)

    pairs = load_pairs()
    by_hand = {
        key: torch.tensor([hand_logp(model, tok, p[side]) for p in pairs])
        for key, model, side in (("pc", policy, "chosen"), ("pr", policy, "rejected"),
                                 ("rc", ref, "chosen"), ("rr", ref, "rejected"))
    }  # fmt: skip
    for key, got in (("pc", pc), ("pr", pr), ("rc", rc), ("rr", rr)):
        assert torch.allclose(got, by_hand[key], atol=1e-3), (key, got, by_hand[key])
    logits = (by_hand["pc"] - by_hand["pr"]) - (by_hand["rc"] - by_hand["rr"])
    expected = (-F.logsigmoid(BETA * logits)).mean()
    assert abs(loss.item() - expected.item()) < 1e-4
    assert torch.allclose(chosen_reward, BETA * (by_hand["pc"] - by_hand["rc"]), atol=1e-3)
    assert (
        abs(loss.item() - torch.log(torch.tensor(2.0)).item()) > 1e-3
    )  # policy ≠ ref: not the trivial value


def margins(policy_dir, ref_dir) -> torch.Tensor:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ref_dir)
    policy = AutoModelForCausalLM.from_pretrained(policy_dir, dtype=torch.float32).eval()
    ref = AutoModelForCausalLM.from_pretrained(ref_dir, dtype=torch.float32).eval()
    return torch.tensor([
        (hand_logp(policy, tok, p["chosen"]) - hand_logp(policy, tok, p["rejected"]))
        - (hand_logp(ref, tok, p["chosen"]) - hand_logp(ref, tok, p["rejected"]))
        for p in load_pairs()
    ])  # fmt: skip


def test_tiny_openrlhf_dpo_run_on_cpu_raises_the_margin(models, tmp_path):
    base = str(models[0])
    out = tmp_path / "dpo"
    config = {
        "model": base, "data": [str(PAIRS)], "output_dir": str(out), "beta": BETA, "max_len": 256,
        "epochs": 6, "learning_rate": 5e-3, "micro_batch_size": 2, "batch_size": 4, "warmup_ratio": 0.0,
        "zero_stage": 2, "attn_implementation": "sdpa", "gradient_checkpointing": False,
        "extra_args": ["--lr_scheduler", "constant"],
    }  # fmt: skip
    (tmp_path / "dpo.json").write_text(json.dumps(config))
    root = Path(__file__).parents[2] / "training-jobs"
    run = subprocess.run(
        [sys.executable, "-m", "workforce_train.trainers.cli", "dpo", "--cpu", "--config", str(tmp_path / "dpo.json")],
        cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    marker = json.loads((out / "training_complete.json").read_text())
    assert marker["pairs"] == 4 and marker["openrlhf"] == dpo.OPENRLHF_VERSION
    assert "--model.model_name_or_path" in marker["command"]  # OpenRLHF's own parser took our flags
    assert torch.allclose(margins(base, base), torch.zeros(4))
    after = margins(out, base)
    assert after.mean() > 1.0 and (after > 0).all(), (
        after
    )  # chosen now beats rejected, relative to the reference
