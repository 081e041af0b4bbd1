"""The peer benchmark's runner: CAMEL Workforce (camel-ai 0.2.90) on the same tasks as bench_orchestration.py.

Runs in its own virtualenv (bench/setup_camel_venv.sh) and imports nothing of this project. One Workforce per
thread, each with a task agent, a coordinator agent and one worker agent ("echo"), all on an OpenAI-compatible
model at --base-url (the benchmark's scripted server, which answers the decomposition with 3 independent
subtasks). Quality checks are off (no recovery strategies); tokens are counted by characters (no tiktoken
download offline). Prints one JSON object on stdout:

    {"tasks": N, "succeeded": K, "wall_s": …, "cpu_s": …, "latencies_s": […], "errors": […], "camel_version": "…"}

Run: .bench-venvs/camel/bin/python bench/peer_camel.py --base-url http://127.0.0.1:PORT/v1 --concurrency 10 --tasks 60
"""

import argparse
import asyncio
import json
import logging
import os
import queue
import sys
import threading
import time

QUESTION = "Benchmark task {i}. SUBTASKS:\n- look up part A of {i}\n- look up part B of {i}\n- look up part C of {i}"
WORKER_ID = "echo"


def char_token_counter():
    from camel.utils.token_counting import BaseTokenCounter

    class CharTokenCounter(BaseTokenCounter):
        """Four characters a token, as the scripted server counts; no tokenizer files needed."""

        def count_tokens_from_messages(self, messages) -> int:
            total = 0
            for m in messages:
                content = m.get("content") if isinstance(m, dict) else None
                if isinstance(content, list):
                    content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                total += 4 + len(str(content or "")) // 4
            return total

        def encode(self, text: str) -> list[int]:
            return [ord(c) for c in text]

        def decode(self, token_ids: list[int]) -> str:
            return "".join(chr(t) for t in token_ids)

    return CharTokenCounter()


def make_workforce(base_url: str):
    from camel.agents import ChatAgent
    from camel.models import ModelFactory
    from camel.societies.workforce import Workforce
    from camel.types import ModelPlatformType

    model = ModelFactory.create(model_platform=ModelPlatformType.OPENAI_COMPATIBLE_MODEL, model_type="scripted",
                                api_key="bench", url=base_url, token_counter=char_token_counter(), max_retries=1,
                                model_config_dict={"temperature": 0.0})
    workforce = Workforce(
        "benchmark", coordinator_agent=ChatAgent("You assign tasks to workers.", model=model),
        task_agent=ChatAgent("You decompose tasks.", model=model), default_model=model,
        graceful_shutdown_timeout=0.0,
        failure_handling_config={"enabled_strategies": []},  # no recovery strategies: no quality evaluation
    )
    worker = ChatAgent("You look things up and answer briefly.", model=model, agent_id=WORKER_ID)
    workforce.add_single_agent_worker("echo: answers any subtask", worker=worker)
    return workforce


def run(base_url: str, concurrency: int, tasks: int) -> dict:
    from camel.tasks import Task

    todo: queue.Queue[int] = queue.Queue()
    for i in range(tasks):
        todo.put(i)
    latencies, errors, lock = [], [], threading.Lock()
    succeeded = [0]
    ready = threading.Barrier(concurrency + 1)  # every Workforce built before the clock starts

    def thread_main():
        asyncio.run(thread_loop())

    async def thread_loop():
        # One event loop per thread for the thread's whole life: CAMEL's async model client is bound to the loop
        # it first ran on, so its synchronous process_task (a fresh asyncio.run per call) cannot be reused.
        try:
            workforce = make_workforce(base_url)
        except Exception as exc:  # reported, not raised: the parent shows it
            with lock:
                errors.append(f"setup: {type(exc).__name__}: {exc}")
            ready.wait()
            return
        ready.wait()
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            result, ok = None, False
            try:
                # One id for every main task: the scripted assignment names subtasks "0.1", "0.2", "0.3"
                # (CAMEL numbers subtasks <parent>.<n>); each Workforce handles one task at a time.
                result = await workforce.process_task_async(Task(content=QUESTION.format(i=i), id="0"))
                ok = str(getattr(result.state, "value", result.state)) == "DONE" and len(result.subtasks) == 3
            except Exception as exc:
                with lock:
                    errors.append(f"task {i}: {type(exc).__name__}: {exc}")
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    succeeded[0] += 1
                    latencies.append(elapsed)
                elif result is not None and len(errors) < 20:
                    errors.append(f"task {i}: state {result.state}, {len(result.subtasks)} subtasks")

    threads = [threading.Thread(target=thread_main, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    ready.wait()
    started, cpu_started = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    import camel

    return {"tasks": tasks, "succeeded": succeeded[0], "wall_s": wall, "cpu_s": cpu, "latencies_s": latencies,
            "errors": errors[:20], "camel_version": camel.__version__}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "bench")
    logging.disable(logging.WARNING)  # CAMEL logs every step; the result goes to stdout as JSON only
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # CAMEL prints progress; keep stdout for the one JSON line
    try:
        out = run(args.base_url, args.concurrency, args.tasks)
    finally:
        sys.stdout = real_stdout
    print(json.dumps(out))


if __name__ == "__main__":
    main()
