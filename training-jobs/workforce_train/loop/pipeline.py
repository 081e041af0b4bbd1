"""The OWL learning loop, stage by stage, from a running system to a better planner served by it:

    base          the planner's GGUF → a transformers checkpoint (float32)
    run_before    the dataset through the gateway, best-of-n at the configured temperatures
    score_before  the project's scorer on every attempt
    data          OWL planner SFT examples (correct attempts) and DPO pairs (correct vs wrong, same prompt)
    sft           LoRA SFT of the planner's model; the adapter merged into a full checkpoint
    dpo           OpenRLHF DPO (LoRA) from the SFT model (its CPU path where no GPU is lent); merged again
    export        the trained weights → one GGUF the model server serves (export_gguf)
    register      served under the new model name and set as the planner's model (register)
    run_after     the same dataset again, same sampling
    score_after   scored as before
    report        before / after figures and each stage's time → <work_dir>/loop.json and report.path

Every stage leaves its outputs in `work_dir` and a line in `state.json`; a rerun skips finished stages and
resumes unfinished ones (the runner and scorer by attempt, SFT from its last checkpoint; DPO and the short
stages start again). `done/<stage>` / `failed/<stage>` files let the Kubernetes Job chain start each stage
when the previous one has finished (jobs.py). Before the first stage, `check_inputs` checks what the stages
to run read; `state.json` also keeps what its stages were made from (`identity`).
"""

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from ..io import DataError, iter_jsonl, read_json, write_json
from .config import LoopConfig
from .metrics import compare, run_metrics

log = logging.getLogger(__name__)
STAGES = ("base", "run_before", "score_before", "data", "sft", "dpo", "export", "register", "run_after",
          "score_after", "report")


def last_error(runs: Path) -> str:
    """The `error` of the last attempt in `runs` that ended in one."""
    errors = [r.get("error", "") for r in iter_jsonl(runs) if r.get("status") == "error"]
    return errors[-1] if errors else "unknown"


def checkpoint_hint(output_dir: Path) -> str:
    """Where a rerun resumes an interrupted trainer writing to `output_dir`."""
    from ..trainers.checkpoints import last_checkpoint

    last = last_checkpoint(output_dir)
    if last is None:
        return "no checkpoint was saved yet: a rerun starts its training again"
    return f"a rerun resumes its training from {Path(last).name}"


class Loop:
    stages = STAGES  # a loop over other stages (roles.py) reuses this machinery with its own list
    # what the work dir's stages were made from: a setting → the first stage made from it (see _check_identity)
    identity_stages = {"base_model": "base"}

    def __init__(self, cfg: LoopConfig):
        self.cfg = cfg
        self.work = Path(cfg.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.state_path = self.work / "state.json"
        self.state = read_json(self.state_path) if self.state_path.is_file() else {"stages": {}}

    # --- running stages ---

    def run(self, only: str | None = None, start: str | None = None) -> dict:
        """All stages (skipping finished ones), from `start` on (redoing it and the later ones), or just `only`."""
        for name in (only, start):
            if name and name not in self.stages:
                raise ValueError(f"unknown stage {name!r}; stages: {', '.join(self.stages)}")
        self._check_identity(only, start)
        redo = self.stages[self.stages.index(start):] if start else ()
        todo = [only] if only else [n for n in self.stages if n in redo or n not in self.state["stages"]]
        self.check_inputs(todo)
        self._invalidate(redo)
        for name in [only] if only else self.stages:
            if name in todo:
                self._run_stage(name)
            else:
                log.info("stage %s: done before, skipped", name)
        return self.state

    def identity(self) -> dict:
        return {"base_model": self.cfg.base_model.gguf}

    def _check_identity(self, only: str | None, start: str | None) -> None:
        """A work dir's stages are only reused for the settings they were made with (a redo from the first
        stage made from a changed setting starts over)."""
        before, now = self.state.get("identity", {}), self.identity()
        changed = [k for k in now if k in before and before[k] != now[k]]
        if changed:
            first = min((self.identity_stages[k] for k in changed), key=self.stages.index)
            if not start or self.stages.index(start) > self.stages.index(first):
                old = ", ".join(f"{k}={before[k] or '(default)'}" for k in changed)
                raise RuntimeError(f"{self.work} holds stages made with {old}; give another work_dir, or redo them "
                                   f"with --from {first}")
        self.state["identity"] = now

    def _invalidate(self, names) -> None:
        """Forget `names` on disk before redoing them, so that a failed redo does not leave the old results."""
        for name in names:
            self.state["stages"].pop(name, None)
            self.state.get("partial_seconds", {}).pop(name, None)
            (self.work / "done" / name).unlink(missing_ok=True)
        write_json(self.state_path, self.state)

    # --- inputs, checked before the first stage ---

    def inputs(self, todo: list[str]) -> dict[str, str]:
        """The input files (setting → path) the stages in `todo` read."""
        c, files = self.cfg, {}
        if {"run_before", "run_after"} & set(todo):
            files["dataset.path"] = c.dataset.path
            files["gateway.api_key_file"] = c.gateway.api_key_file
        if "base" in todo:
            files["base_model.gguf"] = c.base_model.gguf
        if "dpo" in todo and c.dpo.enabled:
            files["dpo.python"] = c.dpo.python
        return {k: v for k, v in files.items() if v}

    def check_inputs(self, todo: list[str]) -> None:
        missing = [f"{key} {path}" for key, path in self.inputs(todo).items() if not Path(path).exists()]
        if missing:
            raise FileNotFoundError(f"input not found: {'; '.join(missing)}; fix the config or add the files")
        if "base" in todo:
            self.base_gguf()
        if "dpo" in todo and self.cfg.dpo.enabled:
            from ..trainers.dpo import check_installed

            check_installed(self.openrlhf_python())
        if {"run_before", "run_after"} & set(todo):
            self.check_gateway()

    def check_gateway(self) -> None:
        """The gateway and its key, before the first stage (base alone takes a minute or more)."""
        from ..runner import make_gateway

        async def go():
            c = self.cfg.gateway
            gateway = make_gateway(c.url, api_key=c.key(), protocol=c.protocol)
            try:
                await self._check_gateway(gateway)
            finally:
                await gateway.close()

        asyncio.run(go())

    # --- one stage ---

    def _run_stage(self, name: str) -> None:
        log.info("loop stage %s", name)
        for marker in ("done", "failed"):
            (self.work / marker).mkdir(exist_ok=True)
            (self.work / marker / name).unlink(missing_ok=True)
        started = time.monotonic()
        try:
            info = getattr(self, f"stage_{name}")()
        except BaseException as exc:
            self._record_failure(name, exc, time.monotonic() - started)
            if isinstance(exc, KeyboardInterrupt):
                raise KeyboardInterrupt(f"stage {name} stopped; {self.resume_hint(name)}") from None
            raise
        partial = self.state.get("partial_seconds", {}).pop(name, 0.0)
        self.state["stages"][name] = {"seconds": round(partial + time.monotonic() - started, 2), "info": info,
                                      "finished_at": time.time()}
        write_json(self.state_path, self.state)
        (self.work / "done" / name).write_text("ok\n")
        log.info("loop stage %s done in %.1f s", name, self.state["stages"][name]["seconds"])

    def _record_failure(self, name: str, exc: BaseException, seconds: float) -> None:
        """The failed/ marker (what the Job chain waits on) and the time spent, added to the stage's next try."""
        if isinstance(exc, KeyboardInterrupt):
            reason = "interrupted by SIGTERM" if str(exc) == "SIGTERM" else "interrupted by the user (Ctrl-C)"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        (self.work / "failed" / name).write_text(reason + "\n")
        partial = self.state.setdefault("partial_seconds", {})
        partial[name] = round(partial.get(name, 0.0) + seconds, 2)
        write_json(self.state_path, self.state)

    def resume_hint(self, name: str) -> str:
        """What a rerun does with the interrupted stage `name`."""
        if name in ("run_before", "run_after"):
            return "finished attempts are kept; run the loop again to run the rest"
        if name in ("score_before", "score_after"):
            return "scored attempts are kept; run the loop again to score the rest"
        if name == "sft":
            return checkpoint_hint(self.work / "sft")
        if name == "dpo":
            return "a rerun starts DPO again from the SFT model (the loop's DPO keeps no intermediate checkpoints)"
        return "run the loop again to redo it"

    def info(self, stage: str) -> dict:
        if stage not in self.state["stages"]:
            raise RuntimeError(f"stage {stage!r} has not finished yet; run the loop from it")
        return self.state["stages"][stage]["info"]

    # --- paths ---

    def base_gguf(self) -> Path:
        if self.cfg.base_model.gguf:
            return Path(self.cfg.base_model.gguf)
        from workforce.core.local_model import INSTALL_HINT, default_model_path

        path = default_model_path()
        if path is None:
            raise FileNotFoundError(f"no base_model.gguf given and the default model is not installed ({INSTALL_HINT})")
        return path

    # --- stages ---

    def stage_base(self) -> dict:
        from .base_model import hf_from_gguf

        gguf = self.base_gguf()
        return {"gguf": str(gguf), "hf_dir": str(hf_from_gguf(gguf, self.work / "base_hf"))}

    def _run_dataset(self, phase: str) -> dict:
        from ..runner import RunConfig, load_dataset, make_gateway, run_dataset

        c = self.cfg
        questions = load_dataset(c.dataset.path, limit=c.dataset.limit)
        config = RunConfig(output=self.work / phase / "runs.jsonl", samples=c.run.samples,
                           concurrency=c.run.concurrency, temperatures=list(c.run.temperatures),
                           retries=c.run.retries, task_timeout_s=c.run.task_timeout_s,
                           run_id=f"{Path(c.work_dir).name}-{phase}", metadata={**c.run.metadata, "loop_phase": phase})

        async def go():
            gateway = make_gateway(c.gateway.url, api_key=c.gateway.key(), protocol=c.gateway.protocol)
            try:
                await self._check_gateway(gateway)
                return await run_dataset(gateway, questions, config)
            finally:
                await gateway.close()

        counts = asyncio.run(go())
        if counts["error"]:
            cause = last_error(config.output)
            raise RuntimeError(f"{phase}: {counts['error']} attempts ended in transport or gateway errors, the last: "
                               f"{cause} (see {config.output}); {self._error_hint(cause)}")
        return {"runs": str(config.output), **counts}

    async def _check_gateway(self, gateway) -> None:
        """One authenticated call before any task: a wrong key or URL stops the stage here, with what to fix."""
        from ..runner import AuthError, GatewayError, TransportError

        try:
            await gateway.check()
        except AuthError as exc:
            raise RuntimeError(f"the gateway refused the API key ({exc}); {self._error_hint('auth')}") from None
        except TransportError as exc:
            raise RuntimeError(f"the gateway is not reachable ({exc}); {self._error_hint('connect')}") from None
        except GatewayError as exc:
            raise RuntimeError(f"the gateway answered an error to a check of the API key ({exc})") from None

    def _error_hint(self, cause: str) -> str:
        g = self.cfg.gateway
        if cause == "auth" or any(k in cause for k in ("HTTP 401", "HTTP 403", "UNAUTHENTICATED", "PERMISSION_DENIED")):
            source = f"gateway.api_key_file ({g.api_key_file})" if g.api_key_file else "gateway.api_key"
            return f"fix {source}: local mode's key is <data-dir>/api-key (.local/api-key)"
        if cause == "connect" or any(k in cause for k in ("ConnectError", "ConnectTimeout", "UNAVAILABLE")):
            return f"start the system (make run) or fix gateway.url ({g.url}), then run the loop again"
        return "run the loop again to retry them"

    def _score(self, phase: str) -> dict:
        from ..scorers import get_scorer
        from ..scorers.apply import score_file_sync

        options = {} if self.cfg.score.threshold is None else {"threshold": self.cfg.score.threshold}
        scorer = get_scorer(self.cfg.score.scorer, **options)
        out = self.work / phase / "scored.jsonl"
        scored = score_file_sync(scorer, self.work / phase / "runs.jsonl", out)
        return {"scored": str(out), "new": scored, "metrics": run_metrics(self._scored(phase))}

    def _scored(self, phase: str) -> list[dict]:
        latest = {}
        for r in iter_jsonl(self.work / phase / "scored.jsonl"):
            latest[f"{r['id']}#{r.get('sample', 0)}"] = r
        return list(latest.values())

    def stage_run_before(self) -> dict:
        return self._run_dataset("before")

    def stage_score_before(self) -> dict:
        self.info("run_before")
        return self._score("before")

    def stage_run_after(self) -> dict:
        self.info("register")  # the second run is meant for the trained planner
        return self._run_dataset("after")

    def stage_score_after(self) -> dict:
        self.info("run_after")
        return self._score("after")

    def stage_data(self) -> dict:
        from ..data.owl.dpo import dpo_pairs, write_dpo
        from ..data.owl.sft import planner_examples, write_sft

        d, records = self.cfg.data, self._scored("before")
        examples = planner_examples(records, kinds=tuple(d.sft_kinds), min_score=d.sft_min_score)
        if not examples:
            raise DataError("no correct attempt with planner calls in the first run: nothing to fine-tune on "
                            "(more samples, an easier dataset, or a lower data.sft_min_score)")
        pairs = dpo_pairs(records, kinds=tuple(d.dpo_kinds), max_pairs_per_prompt=d.max_pairs_per_prompt,
                          min_gap=d.dpo_min_gap)
        out = self.work / "data"
        sft_paths = write_sft(examples, out)
        dpo_paths = write_dpo(pairs, out) if pairs else {}
        return {"sft_examples": len(examples), "dpo_pairs": len(pairs), "sft": str(sft_paths["openai"]),
                "dpo": str(dpo_paths["openrlhf"]) if pairs else None,
                "questions_with_pairs": len({p["meta"]["id"] for p in pairs})}

    def stage_sft(self) -> dict:
        from ..trainers.lora import LoraSettings
        from ..trainers.sft import SFTConfig, run_sft

        s = self.cfg.sft
        cfg = SFTConfig.from_dict({
            "model": self.info("base")["hf_dir"], "data": [self.info("data")["sft"]],
            "output_dir": str(self.work / "sft"), "format": "messages", "max_length": s.max_length,
            "epochs": s.epochs, "learning_rate": s.learning_rate, "batch_size": s.batch_size,
            "gradient_accumulation_steps": s.gradient_accumulation_steps, "max_steps": s.max_steps,
            "lora": LoraSettings(**s.lora.model_dump()), "merge_lora": True, "gradient_checkpointing": False,
            "save_steps": s.save_steps, "save_total_limit": 1, "logging_steps": 1, "progress": False, **s.extra,
        })
        info = run_sft(cfg)
        return {"model": info["merged_dir"], "global_step": info["global_step"], "train_loss": info["train_loss"],
                "losses": info.get("losses", []), "examples": info["examples"]}

    def stage_dpo(self) -> dict:
        data = self.info("data")
        sft_model = self.info("sft")["model"]
        if not self.cfg.dpo.enabled:
            return {"model": sft_model, "skipped": "dpo.enabled is false"}
        if not data["dpo_pairs"]:
            return {"model": sft_model, "skipped": "no DPO pairs: no question had both a better and a worse attempt "
                                                   "with the same planner prompt"}
        from ..trainers import dpo
        from ..trainers.sft import merge_adapter

        d = self.cfg.dpo
        # OpenRLHF makes len(pairs) // batch_size updates per epoch: fewer pairs than a batch would be none at all
        batch = max(1, min(d.batch_size, data["dpo_pairs"], d.max_samples))
        micro = min(d.micro_batch_size, batch)
        if batch % micro:
            batch -= batch % micro
        settings = {
            "model": sft_model, "data": [data["dpo"]], "output_dir": str(self.work / "dpo"), "beta": d.beta,
            "max_len": d.max_len, "epochs": d.epochs, "learning_rate": d.learning_rate,
            "micro_batch_size": micro, "batch_size": batch, "max_samples": d.max_samples,
            "zero_stage": d.zero_stage, "lora_rank": d.lora_rank, "lora_alpha": d.lora_alpha,
            "lora_target_modules": list(d.lora_target_modules), "num_gpus": d.num_gpus,
            **({"attn_implementation": "sdpa", "gradient_checkpointing": False} if d.cpu else {}), **d.extra,
        }
        info = dpo.run_dpo(dpo.DPOConfig.from_dict(settings), python=self.openrlhf_python(), cpu=d.cpu)
        out = self.work / "dpo"
        model = out
        if d.lora_rank > 0:
            merged = out / "merged"
            if not (merged / "config.json").is_file():
                merge_adapter(sft_model, out, merged)
            model = merged
        return {"model": str(model), "pairs": info.get("pairs"), "cpu": d.cpu, "batch_size": batch,
                "updates": d.epochs * (min(data["dpo_pairs"], d.max_samples) // batch)}

    def openrlhf_python(self) -> str:
        if self.cfg.dpo.python:
            return self.cfg.dpo.python
        if os.environ.get("WF_OPENRLHF_PYTHON"):
            return os.environ["WF_OPENRLHF_PYTHON"]
        for root in (Path(sys.prefix).resolve().parent, Path(__file__).resolve().parents[3]):
            candidate = root / ".venv-openrlhf" / "bin" / "python"
            if candidate.is_file():
                return str(candidate)
        raise FileNotFoundError("OpenRLHF's environment was not found: set dpo.python or WF_OPENRLHF_PYTHON "
                                "(scripts/setup.d/35-openrlhf.sh makes .venv-openrlhf)")

    def stage_export(self) -> dict:
        from .export_gguf import export_merged_gguf, load_state

        name = self.cfg.export.name
        base = self.info("base")
        final = self.info("dpo")["model"]
        info = export_merged_gguf(base["gguf"], load_state(base["hf_dir"]), load_state(final),
                                  self.work / "export" / f"{name}.gguf", name=name)
        return {**info, "from": final, "name": name}

    def stage_register(self) -> dict:
        from .register import register

        export = self.info("export")
        return register(self.cfg.serve, Path(export["path"]), export["name"])

    def stage_report(self) -> dict:
        before, after = self.info("score_before")["metrics"], self.info("score_after")["metrics"]
        name = self.info("export")["name"]
        served = after["planner_models"]
        report = {
            "dataset": self.cfg.dataset.path,
            "questions": before["questions"],
            "samples": self.cfg.run.samples,
            "temperatures": self.cfg.run.temperatures,
            "scorer": self.cfg.score.scorer,
            "base_model": self.info("base")["gguf"],
            "trained_model": name,
            "trained_planner_served_after": bool(served) and set(served) == {name},
            "before": before,
            "after": after,
            "delta": compare(before, after),
            "data": {k: self.info("data")[k] for k in ("sft_examples", "dpo_pairs", "questions_with_pairs")},
            "training": {"sft": {k: self.info("sft").get(k) for k in ("global_step", "train_loss", "examples")},
                         "dpo": {k: v for k, v in self.info("dpo").items() if k != "model"}},
            "export": {k: self.info("export")[k] for k in ("path", "bytes")} | {
                "replaced_tensors": len(self.info("export")["replaced"])},
            "register": self.info("register"),
            "stage_seconds": {k: v["seconds"] for k, v in self.state["stages"].items()},
        }
        write_json(self.work / "loop.json", report)
        if self.cfg.report.path:
            write_json(self.cfg.report.path, report)
        return {"path": str(self.work / "loop.json"), "report": self.cfg.report.path}
