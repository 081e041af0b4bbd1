"""The dataset runner against the real gateway — every service its own process, a real nats-server and the
scripted LLM (tests/support/system.py): samples at per-sample temperatures as the model received them,
bounded concurrency, trajectories, resume, clear errors, HTTP and gRPC, uploads. Transport faults the gateway
never produces itself (503s, cut streams) come from a proxy in front of it (fault_proxy.py)."""

import json

import pytest

from tests.e2e.conftest import system  # noqa: F401  (the module-scoped whole-system fixture)
from tests.support.system import API_KEY
from tests.training.fault_proxy import FaultProxy
from workforce_train.cli import main
from workforce_train.io import read_jsonl
from workforce_train.runner import RunConfig, load_dataset, make_gateway, run_dataset
from workforce_train.runner.dataset import DataError

pytestmark = pytest.mark.e2e
ANSWERS = {"Capital of France?": "Paris", "6 times 7?": "42"}


def script(system, answers=ANSWERS):  # noqa: F811
    """Answers by question; a question with FAIL makes its worker fail (and the task, after its replan).
    The model's request log starts empty."""
    system.llm.reset()
    rules = [{"role": "planner", "schema": "final_answer", "contains": q, "reply": {"content": {"answer": a}}}
             for q, a in answers.items()]
    rules.append({"role": "worker:", "contains": "FAIL", "reply": {"content": {"content": "cannot", "failed": True}}})
    system.llm.script(rules)


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [
        {"id": "q1", "question": "Capital of France?", "answer": "Paris", "level": 1},
        {"task_id": "q2", "Question": "6 times 7?", "Final answer": "42", "Level": 2},
        {"id": "q3", "question": "FAIL on purpose", "answer": "x", "level": 1},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def http_url(system) -> str:  # noqa: F811
    return f"http://127.0.0.1:{system.http_port}"


async def run(url, dataset, output, protocol="http", key=API_KEY, **config):
    config.setdefault("run_id", f"{output.parent.name}-{output.stem}")  # one system serves the whole module
    gw = make_gateway(url, api_key=key, protocol=protocol)
    try:
        return await run_dataset(gw, load_dataset(dataset), RunConfig(output=output, **config))
    finally:
        await gw.close()


def planner_requests(system) -> dict[str, list[dict]]:  # noqa: F811
    by_task: dict[str, list[dict]] = {}
    for r in system.llm.requests():
        if r["role"] == "planner":
            by_task.setdefault(r["task"], []).append(r)
    return by_task


async def test_samples_temperatures_trajectories_and_concurrency(system, dataset, tmp_path):  # noqa: F811
    script(system)
    proxy = FaultProxy(http_url(system)).start()  # no faults: it counts the event streams open at once
    try:
        out = tmp_path / "runs.jsonl"
        counts = await run(proxy.url, dataset, out, samples=2, concurrency=2, temperatures=[0.2, 0.9])
    finally:
        proxy.stop()
    assert counts == {"skipped": 0, "ran": 6, "succeeded": 4, "failed": 2, "cancelled": 0, "error": 0}
    assert proxy.max_open_streams <= 2
    records = read_jsonl(out)
    assert sorted((r["id"], r["sample"]) for r in records) == [(q, s) for q in ("q1", "q2", "q3") for s in (0, 1)]
    # each sample's temperature is what the model received, on every planner call of that task
    asked = planner_requests(system)
    for r in records:
        assert r["temperature"] == [0.2, 0.9][r["sample"]]
        assert {req["temperature"] for req in asked[r["task_id"]]} == {r["temperature"]}, r["id"]
    q1 = next(r for r in records if r["id"] == "q1")
    assert q1["answer"] == "Paris" and q1["gold"] == "Paris" and q1["level"] == "1"
    assert q1["usage"]["planner"]["requests"] == 2 and q1["tokens"]["total"] > 0
    trajectory = q1["trajectory"]
    assert [c["kind"] for c in trajectory["planner_calls"]] == ["plan", "answer"]
    assert "Capital of France?" in json.dumps(trajectory["planner_calls"][0]["messages"])
    plan = json.loads(trajectory["planner_calls"][0]["output"])  # what the model wrote, verbatim
    assert plan["subtasks"][0]["content"] == "Capital of France?"
    (sub,) = trajectory["subtasks"].values()
    assert sub["worker"] == "echo" and sub["status"] == "succeeded" and sub["content"].startswith("done:")
    assert sub["attempts"] == 1 and any("Capital of France?" in str(m) for m in sub["messages"])  # the worker's own
    seqs = [e["seq"] for e in trajectory["events"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert q1["plan"]["subtasks"][0]["status"] == "SUBTASK_STATUS_DONE"
    failed = next(r for r in records if r["id"] == "q3")
    assert failed["status"] == "failed" and failed["answer"] is None and failed["failure_reason"]
    assert failed["replans"] >= 1 and failed["trajectory"]["replans"]


async def test_transport_faults_are_retried_without_duplicates(system, dataset, tmp_path):  # noqa: F811
    script(system)
    proxy = FaultProxy(http_url(system), fail_submits=2, cut_streams_after=3).start()
    try:
        out = tmp_path / "runs.jsonl"
        counts = await run(proxy.url, dataset, out, concurrency=3, retry_wait_s=0.01)
    finally:
        proxy.stop()
    assert counts["error"] == 0 and counts["ran"] == 3
    records = read_jsonl(out)
    assert proxy.refused == 2 and len(proxy.cut) == 3
    assert sum(r["transport_retries"] for r in records) >= 2 + 3  # 2 refused submits, 3 cut streams
    assert set(planner_requests(system)) == {r["task_id"] for r in records}  # idempotency keys: no second task
    for r in records:
        seqs = [e["seq"] for e in r["trajectory"]["events"]]
        assert seqs == sorted(set(seqs)) and r["trajectory"]["events"][-1]["type"].startswith("task.")
        assert r["trajectory"]["events"][0]["type"] == "task.submitted"  # resumed from N+1, nothing lost


async def test_resume_skips_finished_and_repairs_partial_line(system, dataset, tmp_path):  # noqa: F811
    script(system)
    out = tmp_path / "runs.jsonl"
    await run(http_url(system), dataset, out, samples=2, concurrency=6)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])  # a crash mid-write
    script(system)
    counts = await run(http_url(system), dataset, out, samples=2, concurrency=6)
    assert counts["skipped"] == 3 and counts["ran"] == 3
    assert len(planner_requests(system)) == 0  # same idempotency keys: the 3 finished tasks are fetched, not rerun
    records = read_jsonl(out)
    assert len(records) == 6 and len({(r["id"], r["sample"]) for r in records}) == 6
    counts = await run(http_url(system), dataset, out, samples=2)
    assert counts["skipped"] == 6 and counts["ran"] == 0


async def test_unreachable_gateway_records_errors_then_resumes(system, dataset, tmp_path):  # noqa: F811
    from workforce.local.nats_server import free_port

    script(system)
    out = tmp_path / "runs.jsonl"
    counts = await run(f"http://127.0.0.1:{free_port()}", dataset, out, retries=2, retry_wait_s=0.01)
    assert counts["error"] == 3
    records = read_jsonl(out)
    assert all(r["status"] == "error" and r["error"].startswith("transport") and r["transport_retries"] == 2
               for r in records)
    counts = await run(http_url(system), dataset, out, concurrency=3)
    assert counts["ran"] == 3 and counts["error"] == 0 and counts["skipped"] == 0


async def test_wrong_api_key_is_not_retried(system, dataset, tmp_path):  # noqa: F811
    system.llm.reset()
    out = tmp_path / "runs.jsonl"
    counts = await run(http_url(system), dataset, out, key="wrong", retry_wait_s=0.01)
    assert counts["error"] == 3
    records = read_jsonl(out)
    assert all("HTTP 401" in r["error"] and r["transport_retries"] == 0 for r in records)
    assert not system.llm.requests()  # nothing was submitted


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_gateway_check_accepts_the_key_and_refuses_a_wrong_one(system, protocol):  # noqa: F811
    from workforce_train.runner import AuthError

    url = http_url(system) if protocol == "http" else f"127.0.0.1:{system.grpc_port}"
    for key, refused in ((API_KEY, False), ("wrong", True)):
        gw = make_gateway(url, api_key=key, protocol=protocol)
        try:
            if refused:
                with pytest.raises(AuthError):
                    await gw.check()
            else:
                await gw.check()
        finally:
            await gw.close()


async def test_resubmitting_reattaches_with_the_gateways_latency(system, dataset, tmp_path):  # noqa: F811
    script(system)
    first = tmp_path / "first.jsonl"
    await run(http_url(system), dataset, first, run_id="same")
    again = tmp_path / "again.jsonl"  # a new output with the same idempotency keys: every task is found again
    await run(http_url(system), dataset, again, run_id="same")
    before = {r["id"]: r for r in read_jsonl(first)}
    for record in read_jsonl(again):
        assert record["reattached"] and not before[record["id"]]["reattached"]
        assert record["latency_s"] == pytest.approx(before[record["id"]]["latency_s"], abs=1.0)


async def test_grpc_transport(system, dataset, tmp_path):  # noqa: F811
    script(system)
    target = f"127.0.0.1:{system.grpc_port}"
    out = tmp_path / "runs.jsonl"
    counts = await run(target, dataset, out, protocol="grpc", samples=2, temperature=0.3, concurrency=6)
    assert counts["succeeded"] == 4 and counts["failed"] == 2
    q2 = next(r for r in read_jsonl(out) if r["id"] == "q2")
    assert q2["answer"] == "42" and q2["tokens"]["total"] > 0
    assert [c["kind"] for c in q2["trajectory"]["planner_calls"]] == ["plan", "answer"]
    assert q2["plan"]["subtasks"][0]["subtask_id"] == "1"
    out_bad = tmp_path / "bad.jsonl"
    counts = await run(target, dataset, out_bad, protocol="grpc", key="nope")
    assert counts["error"] == 3 and "UNAUTHENTICATED" in read_jsonl(out_bad)[0]["error"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_attached_files_are_uploaded(system, tmp_path, protocol):  # noqa: F811
    script(system)
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    path = tmp_path / "ds.jsonl"
    path.write_text(json.dumps({"id": "f1", "question": "6 times 7?", "answer": "42", "file_name": "table.csv"}) + "\n")
    target = http_url(system) if protocol == "http" else f"127.0.0.1:{system.grpc_port}"
    await run(target, path, tmp_path / "out.jsonl", protocol=protocol)
    record = read_jsonl(tmp_path / "out.jsonl")[0]
    assert record["status"] == "succeeded", record
    (decompose, *_) = planner_requests(system)[record["task_id"]]
    assert "table.csv" in json.dumps(decompose["messages"])  # the planner was told about the uploaded file


def test_bad_datasets_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "x"}\n{"id": "a", "question": "y"}\n')
    with pytest.raises(DataError, match="duplicate id 'a'"):
        load_dataset(bad)
    bad.write_text('{"question": "no id"}\n')
    with pytest.raises(DataError, match="needs an id"):
        load_dataset(bad)
    bad.write_text('{"id": "a", "question": "x", "files": ["missing.pdf"]}\n')
    with pytest.raises(DataError, match="not found"):
        load_dataset(bad)
    bad.write_text('{"id": "a", "question": "x"}\nnot json\n{"id": "b", "question": "y"}\n')
    with pytest.raises(DataError, match=":2: invalid JSON"):
        load_dataset(bad)


def test_cli_run(system, dataset, tmp_path, capsys):  # noqa: F811
    script(system)
    out = tmp_path / "cli.jsonl"
    code = main(["run", "--dataset", str(dataset), "--output", str(out), "--gateway", http_url(system),
                 "--api-key", API_KEY, "--samples", "2", "--temperatures", "0.5,1.0", "--concurrency", "6",
                 "--run-id", tmp_path.name])
    assert code == 0  # a failed task is an outcome, not an error of the run
    assert "ran=6" in capsys.readouterr().out
    records = read_jsonl(out)
    assert len(records) == 6 and {r["temperature"] for r in records} == {0.5, 1.0}
    assert main(["run", "--dataset", str(tmp_path / "missing.jsonl"), "--output", str(out)]) == 2


async def test_e2e_runner_with_several_subtasks(system, tmp_path):  # noqa: F811
    path = tmp_path / "ds.jsonl"
    rows = [{"id": "e1", "question": "Collect. SUBTASKS:\n- find alpha @echo\n- find beta @echo", "answer": "x"},
            {"id": "e2", "question": "Say hi @echo", "answer": "y"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "http.jsonl"
    counts = await run(http_url(system), path, out, samples=2, concurrency=4, temperature=0.8)
    assert counts["succeeded"] == 4, [(r["id"], r["status"], r.get("error")) for r in read_jsonl(out)]
    e1 = next(r for r in read_jsonl(out) if r["id"] == "e1")
    assert "done: find alpha" in e1["answer"] and "done: find beta" in e1["answer"]
    assert e1["trajectory"]["assignments"] and len(e1["trajectory"]["subtasks"]) == 2
    assert all(s["worker"] == "echo" and s["status"] == "succeeded" for s in e1["trajectory"]["subtasks"].values())
    assert sorted(s["subtask_id"] for s in e1["plan"]["subtasks"]) == ["1", "2"]
