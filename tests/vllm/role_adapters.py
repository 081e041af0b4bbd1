"""LoRA adapters for the α-UMi roles, trained with peft (seconds on CPU) on one scripted episode.

The episode: "What is the weather in Paris?" → planner: look it up, `Next: caller` → caller: `get_weather`
with `{"city": "Paris"}` → observation → planner: `Next: conclusion` → summarizer: the answer. Each
adapter learns its role's turns of it from the exact α-UMi training-format prompts the role services
render (`workforce.core.toollearning.alpha_umi_format`), so that, served by vLLM, the episode must replay exactly: proof that
adapters written by peft (attention and MLP modules) are loaded and applied by vLLM as peft applies them,
which is what serving models trained on α-UMi data needs. On any other request the adapters are as good as
random.
"""

import json
from pathlib import Path

from workforce.core.toollearning import alpha_umi_format as alpha_umi
from workforce.core.toollearning.tooldocs import toolbench_doc

from ..support.tiny_models import VLLM, make_tiny_model

LORA_RANK = 8

INSTRUCTION = "What is the weather in Paris?"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = {"name": "get_weather", "description": "Weather of a city.", "parameters": WEATHER}
ACTION = {"name": "get_weather", "arguments": {"city": "Paris"}}
OBSERVATION = "Sunny in Paris, 21 degrees."
ANSWER = "It is sunny in Paris, 21 degrees."
# the turns as the loop writes them into the history (AlphaUmiPlannerStep.text(), the caller's action line)
PLAN_CALL = "I should look up the weather in Paris.\nNext: caller."
CALL = f"Action: {ACTION['name']}\nAction Input: {json.dumps(ACTION['arguments'])}"
PLAN_CONCLUDE = "I know the weather in Paris now.\nNext: conclusion."
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def history(turns: int) -> list[dict]:
    """The first `turns` turns of the scripted episode's history, as `{from, value}`."""
    full = [("user", INSTRUCTION), ("assistant", PLAN_CALL), ("caller", CALL), ("observation", OBSERVATION),
            ("assistant", PLAN_CONCLUDE), ("conclusion", ANSWER)]
    return [{"from": who, "value": value} for who, value in full[:turns]]


def prompt(role: str, turns: int, thought: str = "") -> str:
    """The model input of `role` after `turns` turns, as the role service sends it."""
    docs = [toolbench_doc(TOOL["name"], TOOL["description"], TOOL["parameters"])]
    return alpha_umi.model_prompt(alpha_umi.render(role, docs, history(turns), thought))


def examples() -> dict[str, list[tuple[str, str]]]:
    """role → (prompt, answer) pairs of the scripted episode."""
    return {
        "planner": [(prompt("planner", 1), PLAN_CALL), (prompt("planner", 4), PLAN_CONCLUDE)],
        "caller": [(prompt("caller", 2, PLAN_CALL), CALL)],
        "summarizer": [(prompt("summarizer", 5), ANSWER)],
    }


def train_adapter(base: Path, path, pairs: list[tuple[str, str]], *, steps: int = 300, seed: int = 0) -> Path:
    """Fit a LoRA adapter of `base` to answer each prompt with its answer + EOS; save it in `path`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
        LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, target_modules=TARGETS, lora_dropout=0.0,
                   task_type="CAUSAL_LM"),
    )
    batch = []
    for text, answer in pairs:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        target = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        batch.append((ids, torch.tensor([ids + target]), torch.tensor([[-100] * len(ids) + target])))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = sum(model(input_ids=x, labels=y).loss for _, x, y in batch) / len(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    model.eval()
    for (ids, _, _), (_, answer) in zip(batch, pairs):  # it must work in peft before vLLM is asked to
        with torch.no_grad():
            output = model.generate(torch.tensor([ids]), max_new_tokens=64, do_sample=False)
        said = tokenizer.decode(output[0, len(ids):], skip_special_tokens=True)
        if said != answer:
            raise RuntimeError(f"the adapter did not learn its answer (loss {loss.item():.3f}): {said!r}")
    model.save_pretrained(path)
    return Path(path)


def build_all(root) -> dict[str, Path]:
    """The base model (tests/support/tiny_models.py, size VLLM) and the trained planner, caller and
    summarizer adapters under `root`; returns their directories by served name ("base" for the base model)."""
    root = Path(root)
    base = make_tiny_model(root / "base", size=VLLM)
    models = {"base": base}
    for role, pairs in examples().items():
        models[role] = train_adapter(base, root / f"lora-{role}", pairs, seed=2)
    return models


if __name__ == "__main__":
    import sys

    print(build_all(sys.argv[1]))
