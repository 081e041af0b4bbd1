"""Files a task's workers produced: listed in the subtask's `subtask.succeeded` event and sent by
GET /v1/tasks/{task}/subtasks/{subtask}/files/{name} to the task's owner (an admin too), no one else."""

import pytest

from tests.gateway.test_tenancy import sse_events, wait_status

pytestmark = pytest.mark.e2e


def test_a_produced_file_is_listed_and_sent_to_its_owner_only(system, clients):
    system.llm.script([{"role": "worker:echo", "contains": "save the report", "times": 1,
                        "reply": {"tool_calls": [{"name": "save", "arguments": {"name": "report 1.txt",
                                                                                "text": "total: 42"}}]}}])
    alice = clients["alice"]
    task_id = alice.submit("Please save the report @echo")
    assert wait_status(alice, task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    succeeded = next(e for e in sse_events(alice, task_id) if e["type"] == "subtask.succeeded")
    (listed,) = succeeded["data"]["files"]
    assert (listed["name"], listed["size"], listed["media_type"]) == ("report 1.txt", 9, "text/plain")
    assert "object_key" not in listed and f"{task_id}/out/" not in str(succeeded)   # no store key in the event

    path = f"/v1/tasks/{task_id}/subtasks/{succeeded['subtask_id']}/files/report%201.txt"
    sent = alice.http.get(path)
    assert sent.status_code == 200, sent.text
    assert sent.content == b"total: 42" and sent.headers["content-type"].startswith("text/plain")
    assert sent.headers["content-disposition"] == "attachment; filename*=UTF-8''report%201.txt"
    assert clients["ops"].http.get(path).content == b"total: 42"          # an admin sees every task

    for response, says in ((clients["bob"].http.get(path), "no task"),    # another tenant: as if there were none
                           (alice.http.get(path.replace("report%201", "other")), "produced no file 'other.txt'"),
                           (alice.http.get(path.replace(f"/subtasks/{succeeded['subtask_id']}/", "/subtasks/9/")),
                            "subtask '9'")):
        assert response.status_code == 404 and says in response.json()["error"]["message"], response.text


def test_a_file_one_subtask_wrote_is_given_to_the_subtasks_that_depend_on_it(system, clients):
    """The coordinator hands a dependency's produced files on with the work item (next to the task's attachments),
    so the next worker can read what the one before it wrote; a subtask that does not depend on it does not get it."""
    system.llm.script([{"role": "worker:echo", "contains": "write the tally", "times": 1,
                        "reply": {"tool_calls": [{"name": "save", "arguments": {"name": "tally.txt",
                                                                                "text": "a: 3\nb: 4\n"}}]}}])
    alice = clients["alice"]
    task_id = alice.submit("Keep count. SUBTASKS:\n- write the tally @echo\n- sum the tally after:1 @echo\n"
                           "- say hello @echo")
    assert wait_status(alice, task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    prompts = {}
    for request in system.llm.requests():
        if request["role"] == "worker:echo" and request["task"] == task_id:
            text = "\n".join(str(m.get("content")) for m in request["messages"])
            for step in ("write the tally", "sum the tally", "say hello"):
                if f"Your subtask:\n{step}" in text:
                    prompts[step] = text
    assert set(prompts) == {"write the tally", "sum the tally", "say hello"}, list(prompts)
    assert "- tally.txt (text/plain, 10 bytes)" in prompts["sum the tally"]
    assert "Files attached" not in prompts["say hello"] and "Files attached" not in prompts["write the tally"]
