"""Tasks through every service as a separate process: dependencies, events, replay, replanning, load."""

import concurrent.futures

import grpc
import pytest

from tests.support.system import API_KEY, dispatches
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = __import__("pytest").mark.e2e

THREE = "Collect the facts. SUBTASKS:\n- find alpha @echo\n- find beta @echo\n- combine alpha and beta after:1 after:2"


def types(events):
    return [e["type"] for e in events]


def test_slow_steps_show_progress_on_the_record_and_in_the_events(system):
    """Each model call takes 1.6 s, longer than WF_PROGRESS_SIGNAL_DELAY_S and WF_RECORD_PROGRESS_INTERVAL_S
    (1 s each): the planning, each running subtask, the synthesis and the record's progress are all visible while
    they last."""
    import time

    system.llm.script([], default_delay_ms=1600)
    task_id = system.submit(THREE)["task_id"]
    seen, deadline = [], time.time() + 60
    while time.time() < deadline:
        record = system.get(task_id)
        seen.append((record["status"].removeprefix("TASK_STATUS_"), record.get("subtasks_done", 0)))
        if seen[-1][0] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.1)
    assert seen[-1] == ("SUCCEEDED", 3), seen
    for state in (("PLANNING", 0), ("RUNNING", 0), ("RUNNING", 2), ("SYNTHESIZING", 3)):
        assert state in seen, (state, sorted(set(seen), key=seen.index))
    events = system.events(task_id)
    kinds = types(events)
    assert kinds.count("task.planning") == 1 and kinds.index("task.planning") < kinds.index("plan.created")
    # the assignment call outlasted the delay too: the plan had its own event, before plan.assigned
    assert kinds.index("plan.created") < kinds.index("plan.assigned")
    assert "subtasks" not in events[kinds.index("plan.assigned")]["data"]
    assert kinds.count("task.synthesizing") == 1
    assert kinds.index("subtask.succeeded") < kinds.index("task.synthesizing") < kinds.index("task.succeeded")
    succeeded = events[kinds.index("task.succeeded")]   # the answer and the planner call that wrote it
    assert "answer.created" not in kinds and succeeded["message"] == system.get(task_id)["answer"]
    assert succeeded["data"]["planner_messages"] and succeeded["data"]["planner_output"], succeeded
    started = [e["subtask_id"] for e in events if e["type"] == "subtask.started"]
    assert sorted(started) == ["1", "2", "3"], kinds
    for sid in "123":
        first_start = next(i for i, e in enumerate(events) if e["type"] == "subtask.started" and e["subtask_id"] == sid)
        done = next(i for i, e in enumerate(events) if e["type"] == "subtask.succeeded" and e["subtask_id"] == sid)
        assert first_start < done


def test_three_subtasks_with_a_dependency(system):
    task_id = system.submit(THREE)["task_id"]
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    assert record["subtasks_total"] == 3 and record["subtasks_done"] == 3
    assert "done: find alpha" in record["answer"] and "done: combine alpha and beta" in record["answer"]
    assert set(record["usage"]) >= {"planner", "coordinator", "worker:echo"}

    events = system.events(task_id)
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    kinds = types(events)
    assert kinds[0] == "task.submitted" and kinds[-1] == "task.succeeded"
    assigned = events[kinds.index("plan.assigned")]["data"]   # a quick assignment: the plan rides in plan.assigned
    assert [t["id"] for t in assigned["subtasks"]] == ["1", "2", "3"] and assigned["planner_output"], assigned
    assert [a["task_id"] for a in assigned["assignments"]] == ["1", "2", "3"]
    succeeded = {e["subtask_id"]: i for i, e in enumerate(events) if e["type"] == "subtask.succeeded"}
    dispatched = {d["subtask_id"]: i for i, d in dispatches(events)}
    assert dispatched["1"] == dispatched["2"] == kinds.index("plan.assigned")   # set going by the plan itself
    assert dispatched["3"] == max(succeeded["1"], succeeded["2"])   # by the result that made it ready
    # quick steps are told by their outcome alone: no "still working" signals, no event per dispatch
    assert not {"task.planning", "plan.created", "subtask.started", "subtask.dispatched",
                "task.synthesizing"} & set(kinds), kinds
    assert kinds.count("task.succeeded") == 1

    # Watching again from sequence N replays exactly from N.
    n = int(events[4]["seq"])
    replay = system.events(task_id, from_seq=n)
    assert [e["seq"] for e in replay] == [e["seq"] for e in events[4:]]

    # Context isolation: a worker sees its subtask and its own dependencies' results, nothing else.
    worker_prompts = {r["messages"][-1]["content"].rsplit("Your subtask:", 1)[-1].strip(): r["messages"][-1]["content"]
                      for r in system.llm.requests() if r["role"] == "worker:echo" and r["task"] == task_id}
    combine = next(v for k, v in worker_prompts.items() if k.startswith("combine"))
    alpha = next(v for k, v in worker_prompts.items() if k.startswith("find alpha"))
    assert "done: find alpha" in combine and "done: find beta" in combine
    assert "Results of the subtasks" not in alpha and "done: find beta" not in alpha


def test_grpc_submit_and_watch_resumes_from_sequence(system):
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        stub = gateway_pb2_grpc.WorkforceStub(channel)
        auth = (("authorization", f"Bearer {API_KEY}"),)
        response = stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="Say hi @echo"), metadata=auth)
        events = list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=response.task_id), metadata=auth))
        assert events[-1].type == "task.succeeded"
        tail = list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=response.task_id, from_seq=events[2].seq),
                                   metadata=auth))
        assert [e.seq for e in tail] == [e.seq for e in events[2:]]
        record = stub.GetTask(gateway_pb2.GetTaskRequest(task_id=response.task_id), metadata=auth)
        assert record.answer.startswith("done: Say hi")
        pools = stub.ListWorkers(gateway_pb2.ListWorkersRequest(), metadata=auth).pools
        assert [(p.worker_type, p.replicas) for p in pools] == [("echo", 2)]
        assert set(pools[0].tools) == {"add", "wait", "save"}


def test_failure_then_replan_then_success_keeps_done_subtasks(system):
    system.llm.script([
        {"role": "worker:", "contains": "Your subtask:\nflaky", "times": 1,
         "reply": {"content": {"content": "the site was down", "failed": True}}},
        {"role": "planner", "contains": "FAILED_JSON", "times": 1,
         "reply": {"content": {"subtasks": [{"id": "1", "content": "mirror route @echo", "dependencies": []}]}}},
    ])
    task_id = system.submit("Get it. SUBTASKS:\n- base facts @echo\n- flaky step after:1\n- wrap up after:2")["task_id"]
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    assert record["replans"] == 1
    events = system.events(task_id)
    kinds = types(events)
    assert "replan.requested" in kinds and "plan.replanned" in kinds
    assert [d["subtask_id"] for _, d in dispatches(events)].count("1") == 1  # kept, not redone
    replan_prompt = next(r for r in system.llm.requests() if r["role"] == "planner" and r["task"] == task_id
                         and "FAILED_JSON" in r["messages"][-1]["content"])["messages"][-1]["content"]
    assert "the site was down" in replan_prompt and "done: base facts" in replan_prompt
    plan = system.http.get(f"/v1/tasks/{task_id}/plan").json()
    statuses = {s["subtask_id"]: s["status"] for s in plan["subtasks"]}
    assert statuses["2"] == "SUBTASK_STATUS_REPLACED" and statuses["2.r1.1"] == "SUBTASK_STATUS_DONE"
    wrap = next(s for s in plan["subtasks"] if s["subtask_id"] == "3")
    assert wrap["dependencies"] == ["2.r1.1"]


def test_failing_beyond_the_threshold_fails_the_task_with_the_reason(system):
    system.llm.script([
        {"role": "worker:", "contains": "doomed", "reply": {"content": {"content": "archive unreachable",
                                                                        "failed": True}}},
        {"role": "planner", "contains": "FAILED_JSON",
         "reply": {"content": {"subtasks": [{"id": "1", "content": "doomed again", "dependencies": []}]}}},
    ])
    task_id = system.submit("Try. SUBTASKS:\n- doomed step")["task_id"]
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_FAILED"
    assert record["failure_reason"].startswith("subtask 1.r1.1 failed: archive unreachable")
    assert record["failure_reason"].endswith("(2 failures with the subtasks it replaces; replan threshold 2)")
    assert record["replans"] == 1
    assert types(system.events(task_id))[-1] == "task.failed"
    # Over the OpenAI route the failure is a 422 the SDK does not retry: one call, one task (a 502 made three)
    import openai

    sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{system.http_port}/v1", api_key=API_KEY, max_retries=2)
    with pytest.raises(openai.UnprocessableEntityError) as failed:
        sdk.chat.completions.create(model="workforce",
                                    messages=[{"role": "user", "content": "SUBTASKS:\n- doomed chat"}])
    assert failed.value.body["type"] == "task_failed" and "archive unreachable" in failed.value.body["message"]
    chats = [t for t in system.http.get("/v1/tasks", params={"limit": 500}).json()["tasks"]
             if "doomed chat" in t["question"]]
    assert len(chats) == 1


def test_fifty_concurrent_tasks_all_finish(system):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(lambda i: system.submit(f"Task {i}. SUBTASKS:\n- part a {i}\n- part b {i}")["task_id"],
                            range(50)))
        records = list(pool.map(lambda t: system.wait(t, timeout=180), ids))
    assert len(set(ids)) == 50
    assert [r["status"] for r in records] == ["TASK_STATUS_SUCCEEDED"] * 50
    for i, r in enumerate(records):
        assert f"done: part a {i}" in r["answer"]


def test_idempotency_key_returns_the_first_task(system):
    first = system.submit("Once only @echo", idempotency_key="order-17")
    second = system.submit("Once only @echo", idempotency_key="order-17")
    assert first["created"] is True and second["created"] is False
    assert first["task_id"] == second["task_id"]
    other = system.http.post("/v1/tasks", json={"question": "Something else @echo", "idempotency_key": "order-17"})
    assert other.status_code == 409 and first["task_id"] in other.json()["error"]["message"], other.text
    # the key as a header, as on the OpenAI route
    by_header = system.http.post("/v1/tasks", json={"question": "Once only @echo"},
                                 headers={"Idempotency-Key": "order-17"})
    assert by_header.status_code == 200 and by_header.json()["task_id"] == first["task_id"], by_header.text
    both = system.http.post("/v1/tasks", json={"question": "x", "idempotency_key": "a"},
                            headers={"Idempotency-Key": "b"})
    assert both.status_code == 400 and "differ" in both.text
    # with a file (named with folders: the workers see its name alone); a retry of it finds the file stored
    upload = {"data": {"question": "Read it @echo", "idempotency_key": "upload-3"},
              "files": [("files", ("../notes/todo.txt", b"buy milk", "text/plain"))]}
    once, again = system.http.post("/v1/tasks/upload", **upload), system.http.post("/v1/tasks/upload", **upload)
    assert (once.status_code, again.status_code) == (201, 200), again.text
    assert [f["name"] for f in once.json()["task"]["files"]] == ["todo.txt"]


def test_openai_chat_completions(system):
    import openai

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{system.http_port}/v1", api_key=API_KEY)
    reply = client.chat.completions.create(model="workforce", messages=[{"role": "user", "content": "Ping @echo"}])
    assert reply.choices[0].message.content.startswith("done: Ping")
    assert reply.usage.total_tokens > 0
    chunks = list(client.chat.completions.create(model="workforce", stream=True,
                                                 messages=[{"role": "user", "content": "Stream it @echo"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("done: Stream it")
    assert client.models.list().data[0].id == "workforce"


def test_sampling_temperature_from_task_metadata_reaches_planner_and_workers(system):
    task_id = system.submit("Sample me @echo", metadata={"temperature": "0.9"})["task_id"]
    assert system.wait(task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    sent = {(r["role"], r["temperature"]) for r in system.llm.requests() if r["task"] == task_id}
    assert ("planner", 0.9) in sent and ("worker:echo", 0.9) in sent
    bad = system.http.post("/v1/tasks", json={"question": "x", "metadata": {"temperature": "hot"}})
    assert bad.status_code == 400 and "temperature" in bad.json()["error"]["message"]
