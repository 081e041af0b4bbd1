"""The `run` stage of `workforce-train roles`: the tool worker's agent (workers/tool/agent.py ToolAgent — the
α-UMi or AutoAct pipeline exactly as worker-tool runs it for a subtask) on the configured questions, with the
settings that put each role on its adapter (WF_LLM_MODELS, WF_LLM_LORA_ADAPTERS). Every request the roles
send to the model server is logged (role, model, the `lora` field), and the events the worker would publish
(`role.planner`, `tool.call`, `tool.models`) are kept per question: the trajectories of the run.

With `run.probe`, each role is also asked once directly (the same role layer), so that every adapter is
exercised even when a tiny model ends an episode before reaching some role (a planner that gives up never
calls the caller or the summarizer).
"""

import logging
import tempfile
from pathlib import Path

from ..runner import load_dataset
from .roles_config import RolesConfig

log = logging.getLogger(__name__)


def _settings(cfg: RolesConfig, served: dict):
    from workforce.core.toollearning.settings import ToolSettings

    env = served["env"]
    values = {
        "llm_base_url": served["url"], "llm_models": env["WF_LLM_MODELS"],
        "llm_lora_adapters": env["WF_LLM_LORA_ADAPTERS"], "llm_max_retries": 1, "llm_timeout_s": 300,
        "tool_strategy": cfg.framework, "tool_registry": cfg.run.registry, "tool_prompt_family": cfg.run.family,
        "tool_max_turns": cfg.run.max_turns, "tool_autoact_max_steps": cfg.run.max_steps,
        "tool_wikipedia_url": cfg.run.wikipedia_url, "tool_autoact_search": "off",
        "role_max_tokens": cfg.run.max_tokens, "llm_max_tokens": cfg.run.max_tokens,
        "role_completion_api": "completions", "metrics_port": 0, "grpc_port": 0,
    }
    return ToolSettings(**(values | {k.lower(): v for k, v in cfg.run.settings.items()}))


def _recording_client(settings, requests: list):
    from workforce.core.llm.client import ChatClient

    class RecordingClient(ChatClient):
        """The worker's LLM client, logging what each request asked the model server for."""

        async def _post(self, request, role, task_id, path="/chat/completions"):
            entry = {"role": role, "task_id": task_id, "path": path, "model": request.get("model"),
                     "lora": request.get("lora")}
            requests.append(entry)
            try:
                body = await super()._post(request, role, task_id, path)
            except Exception as exc:
                entry["error"] = str(exc)[:300]
                raise
            entry["server_model"] = body.get("model")
            return body

    return RecordingClient(settings)


class _Context:
    """A ToolContext whose events are kept (the worker publishes them to the task's event stream)."""

    @staticmethod
    def make(item, settings, workdir: Path, events: list):
        from workforce.workers.tools import ToolContext

        class RecordingContext(ToolContext):
            async def emit(self, type_, message="", data=None):
                events.append({"type": type_, "message": message, "data": data or {}})

        return RecordingContext(item.task_id, item.subtask_id, item.attempt_id, "tool", settings, workdir)


def _probes(framework: str, question: str, tools: list[dict]):
    from workforce.core.toollearning.generator import RoleRequest

    if framework == "alpha-umi":
        said = [{"from": "user", "value": question}, {"from": "assistant", "value": "Call a tool first."}]
        return [RoleRequest("planner", question, tools, [{"from": "user", "value": question}]),
                RoleRequest("caller", question, tools, said, thought="Call a tool first."),
                RoleRequest("summarizer", question, tools, said + [{"from": "observation", "value": "{}"}])]
    return [RoleRequest("plan", question, tools, []),
            RoleRequest("tool", question, tools, [{"from": "thought", "value": "Look it up."},
                                                  {"from": "action", "value": "Retrieve"}]),
            RoleRequest("reflect", question, tools, [{"from": "action", "value": "Finish[yes]"}])]


async def run_tool_worker(cfg: RolesConfig, served: dict, out: Path) -> dict:
    from workforce.core.toollearning.messages import RoleOutputError
    from workforce.v1 import channel_pb2
    from workforce.workers.tool import spec as tool_spec
    from workforce.workers.tool.agent import ToolAgent

    out.mkdir(parents=True, exist_ok=True)
    settings = _settings(cfg, served)
    requests: list[dict] = []
    llm = _recording_client(settings, requests)
    agent = ToolAgent(llm, tool_spec(settings), settings)
    questions = load_dataset(cfg.run.questions, limit=cfg.run.limit)
    results = []
    try:
        for q in questions:
            item = channel_pb2.WorkItem(task_id=f"roles-{q.id}", subtask_id="s1", attempt_id="s1/1",
                                        worker_type="tool", overall_task=q.question, subtask=q.question)
            events: list[dict] = []
            with tempfile.TemporaryDirectory(dir=out) as workdir:
                outcome = await agent.run(item, _Context.make(item, settings, Path(workdir), events))
            results.append({"id": q.id, "question": q.question, "answer": outcome.content, "failed": outcome.failed,
                            "tool_calls": outcome.tool_calls, "messages": outcome.messages, "events": events})
            log.info("question %s: %s", q.id, outcome.content[:120])
        probes = []
        if cfg.run.probe and questions:
            if cfg.framework == "alpha-umi":
                tools = [{"name": t.name, "description": t.description, "parameters": t.parameters}
                         for t in agent.spec.tools]
            else:
                from workforce.core.toollearning.hotpotqa_tools import HotpotQASession

                tools = HotpotQASession(settings.tool_wikipedia_url, settings.tool_http_timeout_s).tools()
            for request in _probes(cfg.framework, questions[0].question, tools):
                request.family, request.task_id = cfg.run.family, "roles-probe"
                try:
                    result = await agent.roles[request.role].generate(request)
                    probes.append({"role": request.role, "model": result.model, "valid": True,
                                   "raw_output": result.raw_output})
                except RoleOutputError as exc:
                    probes.append({"role": request.role, "valid": False, "error": str(exc)[:300]})
    finally:
        await llm.close()
    by_role: dict[str, dict] = {}
    for r in requests:
        slot = by_role.setdefault(r["role"], {"requests": 0, "models": [], "adapter_ids": [], "errors": 0})
        slot["requests"] += 1
        slot["errors"] += "error" in r
        ids = [x.get("id") for x in r["lora"] or []] or [None]
        for key, values in (("models", [r["model"]]), ("adapter_ids", ids)):
            slot[key] = sorted({*slot[key], *values}, key=str)
    return {"questions": results, "probes": probes, "requests": requests, "by_role": by_role}
