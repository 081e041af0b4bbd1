"""α-UMi GLPFT: a backbone fine-tune on whole trajectories, then the planner, caller and summarizer
fine-tunes, each starting from the backbone checkpoint.

Data: `train_backbone.json`, `train_planner.json`, `train_caller.json`, `train_summarizer.json`
(`{input, target}` records, the α-UMi builders' output) in one folder. Loss on target + EOS, prompt
prefixed "system: ", left truncation to 4096 tokens (see `examples`). Defaults are the paper's: backbone
2 epochs at lr 5e-5; planner and caller 1 epoch, summarizer 2 epochs, at lr 1e-5.

Full mode: every stage fine-tunes all weights; the roles start from `<out>/backbone`.
LoRA mode: the backbone adapter is merged into the base (`<out>/backbone/merged`), and each role trains
its own adapter on top of that merged backbone — serve it with vLLM as the base model and
`--lora-modules planner=<out>/planner caller=<out>/caller summarizer=<out>/summarizer`.
Each stage is resumable on its own; finished stages are skipped.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from workforce_train.trainers.lora import LoraSettings
from workforce_train.trainers.sft import SFTConfig, run_sft

ROLES = ("planner", "caller", "summarizer")
OWN_SETTINGS = {
    "model",
    "data",
    "output_dir",
    "format",
    "epochs",
    "learning_rate",
    "max_length",
    "lora",
    "merge_lora",
}


@dataclass
class Stage:
    epochs: float
    learning_rate: float


DEFAULT_STAGES = {
    "backbone": Stage(epochs=2, learning_rate=5e-5),
    "planner": Stage(epochs=1, learning_rate=1e-5),
    "caller": Stage(epochs=1, learning_rate=1e-5),
    "summarizer": Stage(epochs=2, learning_rate=1e-5),
}


@dataclass
class GLPFTConfig:
    model: str
    data_dir: str
    output_dir: str
    mode: str = "full"  # full | lora
    roles: list[str] = field(default_factory=lambda: list(ROLES))
    stages: dict[str, Stage] = field(default_factory=lambda: dict(DEFAULT_STAGES))
    max_length: int = 4096
    lora: LoraSettings = field(default_factory=LoraSettings)
    base: dict = field(default_factory=dict)  # other SFTConfig settings shared by every stage

    def __post_init__(self):
        if self.mode not in ("full", "lora"):
            raise ValueError(f"mode must be full or lora, not {self.mode!r}")
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown GLPFT roles {sorted(unknown)} (known: {ROLES})")
        clash = set(self.base) & OWN_SETTINGS
        if clash:
            raise ValueError(
                f"{sorted(clash)} are set per stage by GLPFT (use 'stages' / top-level settings)"
            )
        given = {k: v if isinstance(v, Stage) else Stage(**v) for k, v in self.stages.items()}
        self.stages = {**DEFAULT_STAGES, **given}


def data_file(data_dir: str | Path, stage: str) -> Path:
    for name in (f"train_{stage}.json", f"train_{stage}.jsonl"):
        if (Path(data_dir) / name).is_file():
            return Path(data_dir) / name
    raise FileNotFoundError(f"{data_dir}: no train_{stage}.json(l) for the GLPFT {stage} stage")


def plan(cfg: GLPFTConfig) -> list[tuple[str, SFTConfig]]:
    """The stages in order, each as the SFT run it is."""
    out = Path(cfg.output_dir)
    lora = cfg.lora if cfg.mode == "lora" else None
    common = dict(max_length=cfg.max_length, format="alpha_umi", lora=lora, **cfg.base)
    backbone = SFTConfig(
        model=cfg.model,
        data=[str(data_file(cfg.data_dir, "backbone"))],
        output_dir=str(out / "backbone"),
        epochs=cfg.stages["backbone"].epochs,
        learning_rate=cfg.stages["backbone"].learning_rate,
        merge_lora=lora is not None,
        **common,
    )
    start = str(out / "backbone" / "merged") if lora else backbone.output_dir
    stages = [("backbone", backbone)]
    for role in cfg.roles:
        stages.append(
            (
                role,
                replace(
                    backbone,
                    model=start,
                    data=[str(data_file(cfg.data_dir, role))],
                    output_dir=str(out / role),
                    epochs=cfg.stages[role].epochs,
                    learning_rate=cfg.stages[role].learning_rate,
                    merge_lora=False,
                ),
            )
        )
    return stages


def run_glpft(cfg: GLPFTConfig) -> dict[str, dict]:
    return {name: run_sft(stage) for name, stage in plan(cfg)}
