"""`loop.yaml`: what `workforce-train loop` runs. Unknown keys are errors (a typo must not silently fall back
to a default). Relative paths are relative to the config file. Example (docs/training.md explains each part):

    work_dir: loop-out
    gateway: {url: http://127.0.0.1:8080, api_key_file: .local/api-key}
    dataset: {path: questions.jsonl}
    run: {samples: 4, temperatures: [0.3, 0.7, 1.0, 1.3], concurrency: 2}
    score: {scorer: hotpotqa}
    data: {sft_min_score: null, dpo_min_gap: null}
    base_model: {gguf: ""}                 # empty: the model server's default model
    sft: {max_steps: 200, learning_rate: 1.0e-4, lora: {r: 8, alpha: 16}}
    dpo: {enabled: true, cpu: true, max_samples: 1000, learning_rate: 5.0e-6, lora_rank: 8}
    export: {name: owl-planner-r1}
    serve: {kind: local, data_dir: .local}    # how the trained planner is put into service
    report: {path: ""}                      # another copy of loop.json; empty: <work_dir>/loop.json only
"""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..io import DataError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Gateway(_Strict):
    url: str = "http://127.0.0.1:8080"
    protocol: Literal["http", "grpc"] = "http"
    api_key: str = ""
    api_key_file: str = ""  # e.g. local mode's <data-dir>/api-key

    def key(self) -> str:
        if self.api_key:
            return self.api_key
        return Path(self.api_key_file).read_text().strip() if self.api_key_file else ""


class Dataset(_Strict):
    path: str
    limit: int | None = Field(None, ge=1)


class Run(_Strict):
    samples: int = Field(4, ge=1)                     # best-of-n per question
    temperatures: list[float] = [0.3, 0.7, 1.0, 1.3]  # sample i at temperatures[i % len]
    concurrency: int = Field(2, ge=1)
    task_timeout_s: int = Field(0, ge=0)
    retries: int = Field(5, ge=0)
    metadata: dict[str, str] = {}                      # more task metadata (e.g. answer_type)


class Score(_Strict):
    scorer: Literal["gaia", "hotpotqa", "table", "cosine", "judge"] = "hotpotqa"
    threshold: float | None = None                     # cosine: correct at ≥ this


class Data(_Strict):
    sft_kinds: list[Literal["plan", "replan", "answer"]] = ["plan", "replan", "answer"]
    sft_min_score: float | None = None   # keep attempts scoring ≥ this instead of the scorer's verdict
    dpo_kinds: list[Literal["plan", "replan", "answer"]] = ["plan"]
    dpo_min_gap: float | None = None     # pair by score gap instead of correct / wrong
    max_pairs_per_prompt: int = Field(4, ge=1)


class BaseModelSource(_Strict):
    gguf: str = ""  # the GGUF the planner runs on now; empty: the model server's default model


class Lora(_Strict):
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = 0.05
    target_modules: list[str] = ["q_proj", "v_proj"]


class Sft(_Strict):
    max_steps: int = -1
    epochs: float = 2.0
    learning_rate: float = 1e-4
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    max_length: int = 4096
    save_steps: int = Field(50, ge=1)  # a checkpoint every this many steps (the latest kept): a rerun resumes there
    lora: Lora = Lora()
    extra: dict = {}  # more SFTConfig settings, verbatim


class Dpo(_Strict):
    enabled: bool = True
    cpu: bool = True             # OpenRLHF's trainer on CPU (workforce_train.trainers.openrlhf_cpu); false: deepspeed
    python: str = ""             # .venv-openrlhf's python (default: WF_OPENRLHF_PYTHON, then .venv-openrlhf)
    beta: float = 0.1
    learning_rate: float = 5e-6
    epochs: int = 1
    max_samples: int = 100_000_000
    micro_batch_size: int = 1
    batch_size: int = 8
    max_len: int = 4096
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_target_modules: list[str] = ["q_proj", "v_proj"]
    zero_stage: int = 2
    num_gpus: int = 1
    extra: dict = {}  # more DPOConfig settings, verbatim


class Export(_Strict):
    name: str = "owl-planner-r1"  # the model name the trained planner is served under


class Serve(_Strict):
    kind: Literal["local", "kubernetes", "none"] = "local"
    service: str = "planner"
    data_dir: str = ".local"          # local: the data directory of `python -m workforce.local`
    timeout_s: float = 300.0
    # kubernetes: the planner Deployment to point at a model server Deployment for the exported GGUF
    namespace: str = "workforce"
    deployment: str = ""              # the planner's Deployment (default: <release>-planner)
    release: str = "workforce"
    model_volume_claim: str = "workforce-train-checkpoints"
    model_mount: str = "/checkpoints"
    image: str = ""                   # the model server image (default: workforce-modelserver:<version>)


class Report(_Strict):
    path: str = ""  # a copy of <work_dir>/loop.json written here too (relative to the config file)


class LoopConfig(_Strict):
    work_dir: str = "loop-out"
    gateway: Gateway = Gateway()
    dataset: Dataset
    run: Run = Run()
    score: Score = Score()
    data: Data = Data()
    base_model: BaseModelSource = BaseModelSource()
    sft: Sft = Sft()
    dpo: Dpo = Dpo()
    export: Export = Export()
    serve: Serve = Serve()
    report: Report = Report()

    @model_validator(mode="after")
    def _names(self):
        if not self.export.name or any(c.isspace() for c in self.export.name):
            raise ValueError("export.name must be a model name without spaces")
        return self

    def resolve_paths(self, root: Path) -> "LoopConfig":
        def fix(value: str) -> str:
            return str((root / value).resolve()) if value and not Path(value).is_absolute() else value

        self.work_dir = fix(self.work_dir)
        self.dataset.path = fix(self.dataset.path)
        self.gateway.api_key_file = fix(self.gateway.api_key_file)
        self.base_model.gguf = fix(self.base_model.gguf)
        self.serve.data_dir = fix(self.serve.data_dir)
        self.report.path = fix(self.report.path)
        return self


def load_config(path: str | Path) -> LoopConfig:
    return load_yaml_model(path, LoopConfig, "a loop config")


def _problem(error: dict) -> str:
    """`field.path: message`, or the message alone for a check of the whole config (it names its fields)."""
    where = ".".join(map(str, error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_yaml_model(path: str | Path, model, what: str, overrides: dict | None = None):
    """A YAML file validated as `model` (paths resolved against its folder); every problem is one DataError."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: {what} is a mapping")
    raw.update(overrides or {})
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{path}: {'; '.join(map(_problem, exc.errors()))}") from None
    return config.resolve_paths(path.parent.resolve())
