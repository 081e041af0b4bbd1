"""The α-UMi / AutoAct role closure (`workforce-train roles`): train the roles, serve them as LoRA adapters on one
base, run the tool worker on them. The stage machinery (state.json, done/ and failed/ markers, `--stage`,
`--from`, resuming) and the `base` stage are the OWL loop's (pipeline.Loop); the stages:

    base     the base GGUF → a transformers checkpoint (float32), as in the OWL loop
    data     α-UMi: GLPFT sets train_{backbone,planner,caller,summarizer}.json from stage-2 conversations
             (the authors' files, ToolBench answers or our own runs); AutoAct: data_{plan,tool,reflect}.json
             from the synthesized trajectories with reward 1
    train    α-UMi GLPFT in LoRA mode: the backbone adapter, merged, then one adapter per role on that backbone;
             AutoAct: one adapter per agent on the base
    export   each adapter → a GGUF LoRA (export_lora); α-UMi's merged backbone → a GGUF (export_gguf), the base
             the role adapters are served on
    serve    one model server: the base + every adapter (serve_adapters), as a process or through local mode
    run      the tool worker's agent (ToolAgent: the α-UMi or AutoAct pipeline) on the questions, every role on
             its adapter; each request is logged (role, model, adapter id) and the trajectories' `tool.models`
             events say which model answered each role
    report   artifacts, what the model server loaded, which adapter served each role → roles.json
"""

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

from ..io import DataError, write_json
from .pipeline import Loop, checkpoint_hint
from .roles_config import RolesConfig

log = logging.getLogger(__name__)
ROLE_STAGES = ("base", "data", "train", "export", "serve", "run", "report")


def checkpoint_hint_of_roles(train_dir: Path) -> str:
    """Where a rerun resumes the role (train/<role>/) that was training when the stage stopped."""
    from ..trainers.checkpoints import is_complete

    unfinished = [d for d in sorted(train_dir.glob("*")) if d.is_dir() and not is_complete(d)]
    if not unfinished:
        return "a rerun trains the remaining roles"
    return f"{unfinished[0].name}: {checkpoint_hint(unfinished[0])}"


class RolesLoop(Loop):
    stages = ROLE_STAGES
    identity_stages = {"base_model": "base", "framework": "data"}  # `base` is shared by both frameworks

    def __init__(self, cfg: RolesConfig):
        super().__init__(cfg)

    def identity(self) -> dict:
        return {**super().identity(), "framework": self.cfg.framework}

    def inputs(self, todo: list[str]) -> dict[str, str]:
        d, r, files = self.cfg.data, self.cfg.run, {}
        if "base" in todo:
            files["base_model.gguf"] = self.cfg.base_model.gguf
        if "data" in todo:
            for key in ("stage2", "stage1", "toolbench_dir", "runs") if self.cfg.framework == "alpha-umi" \
                    else ("trajectories",):
                files[f"data.{key}"] = getattr(d, key)
        if "run" in todo:
            files |= {"run.questions": r.questions, "run.registry": r.registry}
        return {k: v for k, v in files.items() if v}

    def resume_hint(self, name: str) -> str:
        if name == "train":
            return "roles already trained are kept; " + checkpoint_hint_of_roles(self.work / "train")
        return super().resume_hint(name)

    # --- data ---

    def stage_data(self) -> dict:
        out = self.work / "data"
        out.mkdir(parents=True, exist_ok=True)
        d = self.cfg.data
        if self.cfg.framework == "alpha-umi":
            from ..data.alpha_umi import build_all
            from ..data.alpha_umi.sources import load_stage2

            items = load_stage2(toolbench_dir=d.toolbench_dir or None, stage1=d.stage1 or None,
                                stage2=d.stage2 or None, runs=d.runs or None)
            sets = build_all(items)
            for stage, records in sets.items():
                write_json(out / f"train_{stage}.json", records)
            counts = {stage: len(records) for stage, records in sets.items()}
        else:
            from ..data.autoact.split import filter_trajectories, split_by_agent, write_sets

            kept = filter_trajectories(d.trajectories, limit=d.limit)
            sets = split_by_agent(kept)
            write_sets(sets, out)
            counts = {agent: len(records) for agent, records in sets.items()} | {"trajectories": len(kept)}
        empty = [k for k, n in counts.items() if not n]
        if empty:
            raise DataError(f"no training examples for {', '.join(empty)} (see {out})")
        return {"dir": str(out), "examples": counts}

    # --- train ---

    def _sft_settings(self) -> dict:
        t = self.cfg.train
        return {"batch_size": t.batch_size, "gradient_accumulation_steps": t.gradient_accumulation_steps,
                "gradient_checkpointing": False, "save_steps": t.save_steps, "save_total_limit": 1,
                "logging_steps": 1, "progress": False,
                **t.extra}

    def stage_train(self) -> dict:
        from ..trainers.lora import LoraSettings
        from ..trainers.sft import run_sft

        t, out = self.cfg.train, self.work / "train"
        model, data_dir = self.info("base")["hf_dir"], self.info("data")["dir"]
        lora = LoraSettings(**t.lora.model_dump())
        if self.cfg.framework == "alpha-umi":
            from ..trainers.glpft import GLPFTConfig, Stage, plan

            stages = {name: Stage(epochs=t.epochs, learning_rate=t.learning_rate)
                      for name in ("backbone", *self.cfg.roles)}
            glpft = GLPFTConfig(model=model, data_dir=data_dir, output_dir=str(out), mode="lora",
                                stages=stages, max_length=t.max_length, lora=lora, base=self._sft_settings())
            runs = [(name, replace(sft, max_steps=t.backbone_max_steps if name == "backbone" else t.max_steps))
                    for name, sft in plan(glpft)]
        else:
            from ..trainers.autoact import AutoActConfig, plan

            autoact = AutoActConfig(model=model, data_dir=data_dir, output_dir=str(out), epochs=t.epochs,
                                    learning_rate=t.learning_rate, max_length=t.max_length, lora=lora,
                                    base=self._sft_settings())
            runs = [(name, replace(sft, max_steps=t.max_steps)) for name, sft in plan(autoact)]
        results = {}
        for name, sft in runs:
            info = run_sft(sft)
            results[name] = {"adapter": sft.output_dir, "base": sft.model, "global_step": info["global_step"],
                             "train_loss": info["train_loss"], "examples": info["examples"],
                             "merged": info.get("merged_dir")}
        serving_base = results["backbone"]["merged"] if "backbone" in results else model
        return {"stages": results, "serving_base_hf": serving_base}

    # --- export ---

    def stage_export(self) -> dict:
        from .export_gguf import export_merged_gguf, load_state
        from .export_lora import export_lora_gguf

        base, train = self.info("base"), self.info("train")
        out = self.work / "export"
        prefix = self.cfg.export.prefix
        if self.cfg.framework == "alpha-umi":  # the roles were trained on the backbone: it is their base
            merged = export_merged_gguf(base["gguf"], load_state(base["hf_dir"]), load_state(train["serving_base_hf"]),
                                        out / f"{prefix}-backbone.gguf", name=f"{prefix}-backbone")
            serving = {"path": merged["path"], "alias": f"{prefix}-backbone", "replaced_tensors": len(merged["replaced"])}
        else:
            serving = {"path": base["gguf"], "alias": f"{prefix}-base"}
        adapters = []
        for role in self.cfg.roles:
            name = self.cfg.adapter_name(role)
            info = export_lora_gguf(serving["path"], train["stages"][role]["adapter"], out / f"{name}.gguf", name=name)
            adapters.append({"role": role, "name": name, **info})
        return {"base": serving, "adapters": adapters}

    # --- serve ---

    def stage_serve(self) -> dict:
        from .serve_adapters import serve

        export = self.info("export")
        models = {a["role"]: a["name"] for a in export["adapters"]}
        return serve(self.cfg.serve, Path(export["base"]["path"]), export["base"]["alias"], export["adapters"],
                     models, self.work)

    # --- run ---

    def stage_run(self) -> dict:
        from .roles_run import run_tool_worker

        served = self.info("serve")
        if served["kind"] == "none":
            raise RuntimeError("serve.kind is none: nothing serves the adapters to run the tool worker on")
        result = asyncio.run(run_tool_worker(self.cfg, served, self.work / "run"))
        write_json(self.work / "run" / "run.json", result)
        return {"path": str(self.work / "run" / "run.json"), "by_role": result["by_role"],
                "questions": len(result["questions"])}

    # --- report ---

    def stage_report(self) -> dict:
        from .serve_adapters import stop

        served, run, export = self.info("serve"), self.info("run"), self.info("export")
        expected = {a["role"]: {"name": a["name"], "id": i} for i, a in enumerate(export["adapters"])}
        by_role = run["by_role"]
        on_adapter = {role: bool(by_role.get(role, {}).get("requests"))
                      and by_role[role]["models"] == [want["name"]] and by_role[role]["adapter_ids"] == [want["id"]]
                      for role, want in expected.items()}
        report = {
            "framework": self.cfg.framework,
            "base_model": self.info("base")["gguf"],
            "data": self.info("data")["examples"],
            "training": {k: {x: v[x] for x in ("global_step", "train_loss", "examples")}
                         for k, v in self.info("train")["stages"].items()},
            "served_base": export["base"],
            "adapters": [{k: a[k] for k in ("role", "name", "path", "bytes", "rank", "alpha")} for a in export["adapters"]],
            "model_server": {"kind": served["kind"], "url": served.get("url"), "loaded": served.get("loaded")},
            "run": run,
            "roles_on_their_adapters": on_adapter,
            "every_role_on_its_adapter": all(on_adapter.values()),
            "stage_seconds": {k: v["seconds"] for k, v in self.state["stages"].items()},
        }
        if not self.cfg.serve.keep:
            report["model_server"]["stopped"] = stop(served)
        write_json(self.work / "roles.json", report)
        if self.cfg.report.path:
            write_json(self.cfg.report.path, report)
        return {"path": str(self.work / "roles.json"), "report": self.cfg.report.path,
                "every_role_on_its_adapter": report["every_role_on_its_adapter"], "at": time.time()}
