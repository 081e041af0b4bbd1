"""The scripted OpenAI-compatible LLM server used by the tests and benchmarks (the one allowed fake).

A real HTTP server (uvicorn) speaking POST /v1/chat/completions (streaming too) and POST /v1/completions. What it answers is
scripted by rules posted to POST /_script:

    {"rules": [{"role": "planner", "schema": "plan", "contains": "capital", "times": 1, "delay_ms": 0,
                "status": 200, "reply": {"content": "..." | {...json...}, "tool_calls": [{"name", "arguments"}]}}],
     "default_delay_ms": 0}

`role` matches the X-Workforce-Role header (exact, or a prefix ending in ':' / '*'), `schema` the
response_format json_schema name, `contains` a substring of the request's messages. The first rule that
matches and has uses left answers. Without a matching rule a default script answers by role (see
`_default_reply`): planner → one subtask per line of a `SUBTASKS:` block in the task (or one subtask),
coordinator → every subtask to the worker named by `@type` in it (or the first worker), workers →
{"content": "done: <subtask>", "failed": false}, synthesis → the results joined.

GET /_requests lists what was asked (role, schema, messages, tools, time); POST /_reset clears all.
Run: python -m tests.support.scripted_llm --port N  (or ScriptedLLM().start() in a test).
"""

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()
STATE = {"rules": [], "default_delay_ms": 0, "requests": []}


def _text(messages) -> str:
    parts = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(str(content or ""))
    return "\n".join(parts)


def _role_matches(pattern: str, role: str) -> bool:
    if pattern in ("", "*", None):
        return True
    if pattern.endswith(":") or pattern.endswith("*"):
        return role.startswith(pattern.rstrip("*"))
    return role == pattern


def _find_rule(role: str, schema: str, text: str):
    for rule in STATE["rules"]:
        if rule.get("times") is not None and rule["times"] <= 0:
            continue
        if not _role_matches(rule.get("role", "*"), role):
            continue
        if rule.get("schema") and rule["schema"] != schema:
            continue
        if rule.get("contains") and rule["contains"] not in text:
            continue
        if rule.get("times") is not None:
            rule["times"] -= 1
        return rule
    return None


def _block(text: str, marker: str):
    """The JSON value that follows `marker` in the text."""
    at = text.rfind(marker)
    if at < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[at + len(marker):].lstrip())
        return value
    except json.JSONDecodeError:
        return None


def _default_reply(role: str, schema: str, messages) -> dict:
    text = _text(messages)
    last_user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    if role == "planner" and schema == "final_answer":
        results = _block(text, "RESULTS_JSON:") or []
        return {"content": {"answer": " | ".join(r.get("result", "") for r in results)}}
    if role == "planner":
        task = _block(text, "TASK_JSON:") or {}
        question = task.get("question", last_user) if isinstance(task, dict) else last_user
        lines = []
        if "SUBTASKS:" in question:
            lines = [ln.strip("- ").strip() for ln in question.split("SUBTASKS:", 1)[1].splitlines() if ln.strip()]
        lines = lines or [question[:300]]
        subtasks = []
        for i, line in enumerate(lines, 1):
            deps = re.findall(r"after:(\d+)", line)
            subtasks.append({"id": str(i), "content": line, "dependencies": deps})
        return {"content": {"subtasks": subtasks}}
    if role == "coordinator":
        subtasks = _block(text, "SUBTASKS_JSON:") or []
        workers = _block(text, "WORKERS_JSON:") or []
        names = [w.get("id") for w in workers] or ["echo"]
        out = []
        for s in subtasks:
            wanted = re.search(r"@([a-z0-9_-]+)", s.get("content", ""))
            assignee = wanted.group(1) if wanted and wanted.group(1) in names else names[0]
            out.append({"task_id": s["id"], "assignee_id": assignee, "dependencies": s.get("dependencies", [])})
        return {"content": {"assignments": out}}
    subtask = last_user.rsplit("Your subtask:", 1)[-1].strip()
    return {"content": {"content": f"done: {subtask[:200]}", "failed": False}}


def _completion(reply: dict, model: str, prompt_text: str, stop: list | None = None) -> dict:
    content = reply.get("content")
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    for sequence in stop or ():   # as a real server does: the text ends before a stop sequence
        if content and sequence in content:
            content = content[:content.index(sequence)]
    message: dict = {"role": "assistant", "content": content}
    finish = "stop"
    if reply.get("tool_calls"):
        message["tool_calls"] = [
            {"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                          else json.dumps(c["arguments"])}}
            for c in reply["tool_calls"]
        ]
        finish = "tool_calls"
    prompt_tokens = max(1, len(prompt_text) // 4)
    completion_tokens = max(1, len(json.dumps(message)) // 4)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
        "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


@app.post("/v1/chat/completions")
async def chat(request: Request):
    body = await request.json()
    role = request.headers.get("x-workforce-role", "")
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("name", "") if fmt.get("type") == "json_schema" else ""
    messages = body.get("messages", [])
    text = _text(messages)
    STATE["requests"].append({"role": role, "schema": schema, "messages": messages, "tools": body.get("tools"),
                              "model": body.get("model"), "task": request.headers.get("x-workforce-task", ""),
                              "traceparent": request.headers.get("traceparent", ""),
                              "temperature": body.get("temperature"), "tool_choice": body.get("tool_choice"),
                              "json_schema": (fmt.get("json_schema") or {}).get("schema"),
                              "max_tokens": body.get("max_tokens"), "lora": body.get("lora"), "stop": body.get("stop"),
                              "time": time.time()})
    rule = _find_rule(role, schema, text)
    delay = (rule or {}).get("delay_ms", STATE["default_delay_ms"])
    if delay:
        await asyncio.sleep(delay / 1000)
    if rule and "raw_body" in rule:  # a broken backend: any body, any content type
        from fastapi.responses import Response

        return Response(rule["raw_body"], status_code=rule.get("status", 200),
                        media_type=rule.get("content_type", "text/plain"))
    if rule and rule.get("status", 200) != 200:
        return JSONResponse({"error": {"message": "scripted error", "type": "server_error"}},
                            status_code=rule["status"])
    reply = rule["reply"] if rule else _default_reply(role, schema, messages)
    stop = body.get("stop")
    completion = _completion(reply, body.get("model", "scripted"), text, [stop] if isinstance(stop, str) else stop)
    if not body.get("stream"):
        return completion

    async def chunks():
        content = completion["choices"][0]["message"]["content"] or ""
        base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        for piece in [content[i:i + 8] for i in range(0, len(content), 8)] or [""]:
            yield "data: " + json.dumps(base | {"choices": [{"index": 0, "delta": {"content": piece}}]}) + "\n\n"
        yield "data: " + json.dumps(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                           "usage": completion["usage"]}) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


@app.post("/v1/completions")
async def completions(request: Request):
    """Plain completions (the α-UMi prompt family sends its training-format prompt here)."""
    body = await request.json()
    role = request.headers.get("x-workforce-role", "")
    prompt = body.get("prompt", "")
    prompt = "\n".join(prompt) if isinstance(prompt, list) else str(prompt)
    STATE["requests"].append({"role": role, "schema": "", "prompt": prompt, "model": body.get("model"),
                              "lora": body.get("lora"), "task": request.headers.get("x-workforce-task", ""),
                              "time": time.time()})
    rule = _find_rule(role, "", prompt)
    if rule and rule.get("delay_ms", STATE["default_delay_ms"]):
        await asyncio.sleep(rule.get("delay_ms", STATE["default_delay_ms"]) / 1000)
    if rule and "raw_body" in rule:  # a broken backend: any body, any content type
        from fastapi.responses import Response

        return Response(rule["raw_body"], status_code=rule.get("status", 200),
                        media_type=rule.get("content_type", "text/plain"))
    if rule and rule.get("status", 200) != 200:
        return JSONResponse({"error": {"message": "scripted error", "type": "server_error"}},
                            status_code=rule["status"])
    text = (rule or {}).get("reply", {}).get("content", "")
    text = text if isinstance(text, str) else json.dumps(text)
    prompt_tokens, completion_tokens = max(1, len(prompt) // 4), max(1, len(text) // 4)
    return {"id": f"cmpl-{uuid.uuid4().hex[:12]}", "object": "text_completion", "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


@app.post("/_script")
async def script(request: Request):
    body = await request.json()
    STATE["rules"] = list(body.get("rules", []))
    STATE["default_delay_ms"] = body.get("default_delay_ms", 0)
    return {"ok": True}


@app.get("/_requests")
async def requests_():
    return STATE["requests"]


@app.post("/_reset")
async def reset():
    STATE.update(rules=[], default_delay_ms=0, requests=[])
    return {"ok": True}


@app.get("/health")
async def health():
    return {"ok": True}


class ScriptedLLM:
    """Runs this module as its own process (so service processes and benchmarks see a real server)."""

    def __init__(self, port: int | None = None, log_dir: str | None = None):
        from workforce.local.nats_server import free_port

        self.port = port or free_port()
        self.log_dir = Path(log_dir or ".")
        self.proc = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ScriptedLLM":
        root = Path(__file__).resolve().parents[2]
        log = open(self.log_dir / "scripted_llm.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.scripted_llm", "--port", str(self.port)],
                                     cwd=root, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("scripted LLM did not start")

    def script(self, rules: list[dict], default_delay_ms: int = 0) -> None:
        httpx.post(f"http://127.0.0.1:{self.port}/_script",
                   json={"rules": rules, "default_delay_ms": default_delay_ms}).raise_for_status()

    def requests(self) -> list[dict]:
        return httpx.get(f"http://127.0.0.1:{self.port}/_requests", timeout=30).json()

    def reset(self) -> None:
        httpx.post(f"http://127.0.0.1:{self.port}/_reset").raise_for_status()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:  # uvicorn waits for delayed replies still in flight
                self.proc.kill()
                self.proc.wait(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
