"""The dataset runner against a stand-in gateway (real HTTP and gRPC servers speaking the gateway's API):
samples, temperature, bounded concurrency, trajectories, transport retries without duplicate tasks,
resume, clear errors."""

import json

import pytest

from tests.training.standin_gateway import API_KEY, StandinGateway
from workforce_train.cli import main
from workforce_train.io import read_jsonl
from workforce_train.runner import RunConfig, load_dataset, make_gateway, run_dataset
from workforce_train.runner.dataset import DataError

ANSWERS = {"Capital of France?": "Paris", "6 times 7?": "42"}


@pytest.fixture
def gateway():
    server = StandinGateway(ANSWERS).start()
    yield server
    server.stop()


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


async def run(url, dataset, output, protocol="http", key=API_KEY, **config):
    gw = make_gateway(url, api_key=key, protocol=protocol)
    try:
        return await run_dataset(gw, load_dataset(dataset), RunConfig(output=output, **config))
    finally:
        await gw.close()


async def test_samples_trajectories_and_concurrency(gateway, dataset, tmp_path):
    out = tmp_path / "runs.jsonl"
    counts = await run(gateway.http_url, dataset, out, samples=2, concurrency=2, temperature=0.7)
    assert counts == {"skipped": 0, "ran": 6, "succeeded": 4, "failed": 2, "cancelled": 0, "error": 0}
    records = read_jsonl(out)
    assert sorted((r["id"], r["sample"]) for r in records) == [
        (q, s) for q in ("q1", "q2", "q3") for s in (0, 1)
    ]
    q1 = next(r for r in records if r["id"] == "q1")
    assert q1["answer"] == "Paris" and q1["gold"] == "Paris" and q1["level"] == "1"
    assert q1["tokens"] == {"prompt": 320, "completion": 70, "total": 390}
    assert q1["usage"]["planner"] == {"prompt_tokens": 120, "completion_tokens": 30, "requests": 2}
    trajectory = q1["trajectory"]
    assert [c["kind"] for c in trajectory["planner_calls"]] == ["plan", "answer"]
    assert trajectory["planner_calls"][0]["messages"][1] == {"role": "user", "content": "Capital of France?"}
    sub = trajectory["subtasks"]["1"]
    assert sub["worker"] == "web" and sub["status"] == "succeeded" and sub["content"] == "Paris"
    assert sub["tool_calls"] == [
        {"tool": "search", "arguments": {"q": "Capital of France?"}, "result": "r", "ok": True}
    ]
    assert [m["role"] for m in sub["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert [e["seq"] for e in trajectory["events"]] == list(range(1, 11))
    assert q1["plan"]["subtasks"][0]["status"] == "SUBTASK_STATUS_DONE"
    assert q1["plan"]["subtasks"][0]["result"] == "Paris"
    failed = next(r for r in records if r["id"] == "q3")
    assert (
        failed["status"] == "failed"
        and failed["answer"] is None
        and "failed twice" in failed["failure_reason"]
    )
    # temperature reaches the task as metadata; never more than `concurrency` tasks watched at once
    assert {t["record"]["metadata"]["temperature"] for t in gateway.book.tasks.values()} == {"0.7"}
    assert gateway.book.max_open_streams <= 2
    assert len(gateway.book.tasks) == 6


async def test_transport_faults_are_retried_without_duplicates(gateway, dataset, tmp_path):
    gateway.book.fail_submits = 2
    gateway.book.cut_streams_after = 3
    out = tmp_path / "runs.jsonl"
    counts = await run(gateway.http_url, dataset, out, concurrency=3, retry_wait_s=0.01)
    assert counts["error"] == 0 and counts["ran"] == 3
    records = read_jsonl(out)
    assert sum(r["transport_retries"] for r in records) >= 2 + 3  # 2 refused submits, 3 cut streams
    assert len(gateway.book.tasks) == 3  # idempotency keys: no second task
    for r in records:
        seqs = [e["seq"] for e in r["trajectory"]["events"]]
        assert seqs == list(range(1, len(seqs) + 1))  # resumed from N+1, nothing lost or doubled


async def test_resume_skips_finished_and_repairs_partial_line(gateway, dataset, tmp_path):
    out = tmp_path / "runs.jsonl"
    await run(gateway.http_url, dataset, out, samples=2)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])  # a crash mid-write
    before = gateway.book.submits
    counts = await run(gateway.http_url, dataset, out, samples=2)
    assert counts["skipped"] == 3 and counts["ran"] == 3
    assert gateway.book.submits - before == 3
    records = read_jsonl(out)
    assert len(records) == 6 and len({(r["id"], r["sample"]) for r in records}) == 6
    counts = await run(gateway.http_url, dataset, out, samples=2)
    assert counts["skipped"] == 6 and counts["ran"] == 0


async def test_unreachable_gateway_records_errors_then_resumes(gateway, dataset, tmp_path):
    from workforce.local.nats_server import free_port

    out = tmp_path / "runs.jsonl"
    counts = await run(f"http://127.0.0.1:{free_port()}", dataset, out, retries=2, retry_wait_s=0.01)
    assert counts["error"] == 3
    records = read_jsonl(out)
    assert all(
        r["status"] == "error" and r["error"].startswith("transport") and r["transport_retries"] == 2
        for r in records
    )
    counts = await run(gateway.http_url, dataset, out)
    assert counts["ran"] == 3 and counts["error"] == 0 and counts["skipped"] == 0


async def test_wrong_api_key_is_not_retried(gateway, dataset, tmp_path):
    out = tmp_path / "runs.jsonl"
    counts = await run(gateway.http_url, dataset, out, key="wrong", retry_wait_s=0.01)
    assert counts["error"] == 3
    records = read_jsonl(out)
    assert all("HTTP 401" in r["error"] and r["transport_retries"] == 0 for r in records)
    assert gateway.book.submits == 0


async def test_grpc_transport(gateway, dataset, tmp_path):
    out = tmp_path / "runs.jsonl"
    counts = await run(gateway.grpc_target, dataset, out, protocol="grpc", samples=2, temperature=0.3)
    assert counts["succeeded"] == 4 and counts["failed"] == 2
    q2 = next(r for r in read_jsonl(out) if r["id"] == "q2")
    assert q2["answer"] == "42" and q2["tokens"]["total"] == 390
    assert [c["kind"] for c in q2["trajectory"]["planner_calls"]] == ["plan", "answer"]
    assert q2["plan"]["subtasks"][0]["subtask_id"] == "1" and q2["plan"]["subtasks"][0]["result"] == "42"
    out_bad = tmp_path / "bad.jsonl"
    counts = await run(gateway.grpc_target, dataset, out_bad, protocol="grpc", key="nope")
    assert counts["error"] == 3 and "UNAUTHENTICATED" in read_jsonl(out_bad)[0]["error"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
async def test_attached_files_are_uploaded(gateway, tmp_path, protocol):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    path = tmp_path / "ds.jsonl"
    path.write_text(
        json.dumps({"id": "f1", "question": "6 times 7?", "answer": "42", "file_name": "table.csv"}) + "\n"
    )
    target = gateway.http_url if protocol == "http" else gateway.grpc_target
    await run(target, path, tmp_path / "out.jsonl", protocol=protocol)
    record = read_jsonl(tmp_path / "out.jsonl")[0]
    submitted = record["trajectory"]["events"][0]
    assert submitted["type"] == "task.submitted" and submitted["data"]["files"] == ["table.csv:8"]


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


def test_cli_run(gateway, dataset, tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    code = main(
        [
            "run",
            "--dataset",
            str(dataset),
            "--output",
            str(out),
            "--gateway",
            gateway.http_url,
            "--api-key",
            API_KEY,
            "--samples",
            "2",
            "--temperature",
            "0.5",
            "--concurrency",
            "4",
        ]
    )
    assert code == 0
    assert "ran=6" in capsys.readouterr().out
    assert len(read_jsonl(out)) == 6
    assert main(["run", "--dataset", str(tmp_path / "missing.jsonl"), "--output", str(out)]) == 2


# ---- against the real system: every service as its own process (tests/e2e/conftest.py) ----
from tests.e2e.conftest import system  # noqa: E402,F401  (the fixture)


@pytest.mark.e2e
async def test_e2e_runner_through_the_real_gateway(system, tmp_path):  # noqa: F811
    from tests.support.system import API_KEY as SYSTEM_KEY

    path = tmp_path / "ds.jsonl"
    rows = [
        {"id": "e1", "question": "Collect. SUBTASKS:\n- find alpha @echo\n- find beta @echo", "answer": "x"},
        {"id": "e2", "question": "Say hi @echo", "answer": "y"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for protocol, target in (
        ("http", f"http://127.0.0.1:{system.http_port}"),
        ("grpc", f"127.0.0.1:{system.grpc_port}"),
    ):
        out = tmp_path / f"{protocol}.jsonl"
        counts = await run(
            target, path, out, protocol=protocol, key=SYSTEM_KEY, samples=2, concurrency=4, temperature=0.8
        )
        assert counts["succeeded"] == 4, [
            (r["id"], r["status"], r.get("error"), r.get("failure_reason")) for r in read_jsonl(out)
        ]
        records = read_jsonl(out)
        e1 = next(r for r in records if r["id"] == "e1")
        assert "done: find alpha" in e1["answer"] and "done: find beta" in e1["answer"]
        kinds = [c["kind"] for c in e1["trajectory"]["planner_calls"]]
        assert kinds[0] == "plan" and kinds[-1] == "answer"
        assert e1["trajectory"]["planner_calls"][0]["messages"], "the planner's input is recorded"
        assert e1["trajectory"]["assignments"] and len(e1["trajectory"]["subtasks"]) == 2
        assert all(
            s["worker"] == "echo" and s["status"] == "succeeded"
            for s in e1["trajectory"]["subtasks"].values()
        )
        assert e1["tokens"]["total"] > 0 and "planner" in e1["usage"]
        assert sorted(s["subtask_id"] for s in e1["plan"]["subtasks"]) == ["1", "2"]
        # resumable against the real gateway too
        again = await run(target, path, out, protocol=protocol, key=SYSTEM_KEY, samples=2)
        assert again["skipped"] == 4 and again["ran"] == 0
