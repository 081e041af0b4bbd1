"""`roles.yaml`: what `workforce-train roles` runs — the α-UMi or AutoAct role closure. Unknown keys are errors;
relative paths are relative to the config file. Example (docs/training.md explains each part):

    framework: alpha-umi                       # or autoact
    work_dir: roles-out
    base_model: {gguf: ""}                     # empty: the model server's default model
    data: {stage2: raw_data_stage_2.json}      # α-UMi: stage2 | stage1 | toolbench_dir | runs; AutoAct: trajectories
    train: {max_steps: 2, backbone_max_steps: 2, learning_rate: 1.0e-4, max_length: 512, lora: {r: 8, alpha: 16}}
    export: {prefix: alpha-umi-r1}             # adapters served as <prefix>-<role>
    serve: {kind: process, threads: 1}         # process | local | none
    run: {questions: questions.jsonl, registry: tools.yaml, limit: 2}
    report: {path: ""}                         # another copy of roles.json; empty: <work_dir>/roles.json only
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .config import BaseModelSource, Lora, _Strict, load_yaml_model

FRAMEWORK_ROLES = {"alpha-umi": ("planner", "caller", "summarizer"), "autoact": ("plan", "tool", "reflect")}


class RolesData(_Strict):
    # α-UMi GLPFT sources (exactly one): the authors' stage-2 conversations, stage-1 answers, a folder of
    # ToolBench answers, or our own scored tool-worker runs
    stage2: str = ""
    stage1: str = ""
    toolbench_dir: str = ""
    runs: str = ""
    # AutoAct: synthesized trajectories (`workforce-train autoact-synthesize`); reward = 1 ones are kept
    trajectories: str = ""
    limit: int = Field(200, ge=1)              # AutoAct: trajectories kept after filtering


class RolesTrain(_Strict):
    max_steps: int = -1                        # per role; -1: the epochs
    backbone_max_steps: int = -1               # α-UMi backbone stage
    epochs: float = 1.0
    learning_rate: float = 1e-4
    max_length: int = 4096                     # tokens; α-UMi cuts on the left
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    save_steps: int = Field(50, ge=1)          # a checkpoint every this many steps per role: a rerun resumes there
    lora: Lora = Lora()
    extra: dict = {}                           # more SFTConfig settings, verbatim


class RolesExport(_Strict):
    prefix: str = ""                           # adapters are served as <prefix>-<role>; default <framework>-r1


class RolesServe(_Strict):
    kind: Literal["process", "local", "none"] = "process"
    service: str = "worker-tool"               # local: the local-mode service restarted on the adapters
    data_dir: str = ".local"                   # local: the data directory of `python -m workforce.local`
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0)                 # process: 0 = a free port
    threads: int = Field(0, ge=0)              # the model server's CPU threads; 0 = all cores
    ctx: int = Field(8192, ge=512)
    timeout_s: float = 300.0
    keep: bool = False                         # process: keep the model server running after the report


class RolesRun(_Strict):
    questions: str                             # JSONL/JSON of {id?, question}
    limit: int | None = Field(None, ge=1)
    registry: str = ""                         # α-UMi: the tool worker's registry (WF_TOOL_REGISTRY)
    wikipedia_url: str = "https://en.wikipedia.org/w/api.php"  # AutoAct's Retrieve / Lookup
    family: Literal["alpha-umi", "chat"] = "alpha-umi"  # the prompt family the adapters were trained on
    max_turns: int = Field(3, ge=1)            # α-UMi planner steps per question
    max_steps: int = Field(4, ge=1)            # AutoAct steps per question
    max_tokens: int = Field(128, ge=1)         # per role call
    probe: bool = True                         # also one call per role, so that every adapter is exercised
    settings: dict[str, str] = {}              # more WF_* settings of the tool worker (name without WF_)


class RolesReport(_Strict):
    path: str = ""  # a copy of <work_dir>/roles.json written here too (relative to the config file)


class RolesConfig(_Strict):
    framework: Literal["alpha-umi", "autoact"]
    work_dir: str = "roles-out"
    base_model: BaseModelSource = BaseModelSource()
    data: RolesData = RolesData()
    train: RolesTrain = RolesTrain()
    export: RolesExport = RolesExport()
    serve: RolesServe = RolesServe()
    run: RolesRun
    report: RolesReport = RolesReport()

    @model_validator(mode="after")
    def _check(self):
        sources = [k for k in ("stage2", "stage1", "toolbench_dir", "runs") if getattr(self.data, k)]
        if self.framework == "alpha-umi" and len(sources) != 1:
            raise ValueError("alpha-umi: give exactly one of data.stage2, data.stage1, data.toolbench_dir, data.runs")
        if self.framework == "autoact" and not self.data.trajectories:
            raise ValueError("autoact: give data.trajectories (from workforce-train autoact-synthesize)")
        if self.framework == "alpha-umi" and not self.run.registry:
            raise ValueError("alpha-umi: give run.registry, the tool worker's tool registry")
        if not self.export.prefix:
            self.export.prefix = f"{self.framework}-r1"
        if any(c.isspace() or c in ",=" for c in self.export.prefix):
            raise ValueError("export.prefix must be a model name without spaces, commas or '='")
        return self

    @property
    def roles(self) -> tuple[str, ...]:
        return FRAMEWORK_ROLES[self.framework]

    def adapter_name(self, role: str) -> str:
        return f"{self.export.prefix}-{role}"

    def resolve_paths(self, root: Path) -> "RolesConfig":
        def fix(value: str) -> str:
            return str((root / value).resolve()) if value and not Path(value).is_absolute() else value

        self.work_dir = fix(self.work_dir)
        self.base_model.gguf = fix(self.base_model.gguf)
        for key in ("stage2", "stage1", "toolbench_dir", "runs", "trajectories"):
            setattr(self.data, key, fix(getattr(self.data, key)))
        self.serve.data_dir = fix(self.serve.data_dir)
        self.run.questions = fix(self.run.questions)
        self.run.registry = fix(self.run.registry)
        self.report.path = fix(self.report.path)
        return self


def load_roles_config(path: str | Path, framework: str | None = None) -> RolesConfig:
    """The config at `path`; `framework` (the CLI's --framework) overrides its own."""
    return load_yaml_model(path, RolesConfig, "a roles config", {"framework": framework} if framework else None)
