"""AutoAct self-differentiation: one LoRA adapter per agent (plan, tool, reflect) on the same base model.

Data: `data_plan.json`, `data_tool.json`, `data_reflect.json` (`{input, output}` records, the AutoAct
split's output) in one folder; the prompt is "{input}\\n### Response:\\n{output}", loss on the output.
Defaults are AutoAct's: LoRA r 8, alpha 16 on q_proj and v_proj, 5 epochs, lr 1e-4.
The adapters are in the layout vLLM serves: `--lora-modules plan=<out>/plan tool=<out>/tool …`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from workforce_train.trainers.lora import LoraSettings
from workforce_train.trainers.sft import SFTConfig, run_sft

AGENTS = ("plan", "tool", "reflect")
OWN_SETTINGS = {"model", "data", "output_dir", "format", "epochs", "learning_rate", "max_length", "lora"}


@dataclass
class AutoActConfig:
    model: str
    data_dir: str
    output_dir: str
    agents: list[str] = field(default_factory=lambda: list(AGENTS))
    epochs: float = 5
    learning_rate: float = 1e-4
    max_length: int = 4096
    lora: LoraSettings = field(
        default_factory=lambda: LoraSettings(r=8, alpha=16, target_modules=["q_proj", "v_proj"])
    )
    base: dict = field(default_factory=dict)  # other SFTConfig settings shared by every agent

    def __post_init__(self):
        unknown = set(self.agents) - set(AGENTS)
        if unknown:
            raise ValueError(f"unknown AutoAct agents {sorted(unknown)} (known: {AGENTS})")
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        clash = set(self.base) & OWN_SETTINGS
        if clash:
            raise ValueError(f"set {sorted(clash)} at the top level of the AutoAct config, not in 'base'")


def data_file(data_dir: str | Path, agent: str) -> Path:
    for name in (f"data_{agent}.json", f"data_{agent}.jsonl"):
        if (Path(data_dir) / name).is_file():
            return Path(data_dir) / name
    raise FileNotFoundError(f"{data_dir}: no data_{agent}.json(l) for the {agent} agent")


def plan(cfg: AutoActConfig) -> list[tuple[str, SFTConfig]]:
    return [
        (
            agent,
            SFTConfig(
                model=cfg.model,
                data=[str(data_file(cfg.data_dir, agent))],
                output_dir=str(Path(cfg.output_dir) / agent),
                format="autoact",
                epochs=cfg.epochs,
                learning_rate=cfg.learning_rate,
                max_length=cfg.max_length,
                lora=cfg.lora,
                **cfg.base,
            ),
        )
        for agent in cfg.agents
    ]


def run_autoact(cfg: AutoActConfig) -> dict[str, dict]:
    return {agent: run_sft(stage) for agent, stage in plan(cfg)}
