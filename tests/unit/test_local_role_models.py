"""Local mode's switch of one service to a newly trained model (services/workforce/local/role_models.py), on
real processes: a bad request changes nothing and says why; a good one restarts that service alone, with its
endpoint and model name, and can be undone. The model server here is a tiny stand-in HTTP process answering
/health (the real switch, on the real model server, is in tests/training/test_loop.py)."""

import json
import sys
import time

import pytest

from workforce.local.processes import Fleet
from workforce.local.role_models import RoleModels

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet(tmp_path)
    fleet.start("planner", SLEEPER, {"WF_LLM_BASE_URL": "http://base/v1", "WF_LLM_MODEL": "base",
                                     "WF_LLM_MODELS": "coordinator=big"})
    fleet.start("coordinator", SLEEPER, {"WF_LLM_BASE_URL": "http://base/v1"})
    yield fleet
    fleet.stop()


def request(folder, service, **body):
    folder.mkdir(exist_ok=True)
    (folder / f"{service}.json").write_text(json.dumps(body))


def status(folder, service) -> dict:
    return json.loads((folder / f"{service}.status.json").read_text())


def pids(fleet) -> dict[str, int]:
    return {name: proc.pid for name, proc, _ in fleet.procs}


def test_bad_requests_change_nothing(fleet, tmp_path):
    roles = RoleModels(tmp_path / "roles", fleet, ready_timeout_s=5)
    before = pids(fleet)
    request(tmp_path / "roles", "planner", model=str(tmp_path / "missing.gguf"), alias="x", revision="1")
    request(tmp_path / "roles", "nobody", model="", alias="", revision="1")
    lines = roles.poll()
    assert len(lines) == 2 and all("failed" in line for line in lines)
    assert "needs an existing model file" in status(tmp_path / "roles", "planner")["error"]
    assert "no service 'nobody'" in status(tmp_path / "roles", "nobody")["error"]
    assert pids(fleet) == before
    assert roles.poll() == []  # the same revision is not tried again


def test_switch_restarts_only_that_service_and_can_be_undone(fleet, tmp_path, monkeypatch):
    model = tmp_path / "planner.gguf"
    model.write_bytes(b"GGUF")
    # the model server process: anything that answers /health on WF_MODEL_SERVER_PORT
    server = [sys.executable, "-c", "import http.server, os; "
              "h = type('H', (http.server.BaseHTTPRequestHandler,), {'do_GET': lambda s: (s.send_response(200), "
              "s.end_headers())}); http.server.HTTPServer(('127.0.0.1', int(os.environ['WF_MODEL_SERVER_PORT'])), "
              "h).serve_forever()"]
    real_start = fleet.start
    monkeypatch.setattr(fleet, "start", lambda name, argv, env, metrics_port=0: real_start(
        name, server if name.startswith("model-server") else argv, env, metrics_port))
    roles = RoleModels(tmp_path / "roles", fleet, ready_timeout_s=20)
    before = pids(fleet)
    request(tmp_path / "roles", "planner", model=str(model), alias="owl-r1", revision="r1")
    assert roles.poll() == ["planner: serving owl-r1"]
    done = status(tmp_path / "roles", "planner")
    after = pids(fleet)
    assert after["coordinator"] == before["coordinator"] and after["planner"] != before["planner"]
    assert "model-server-planner" in after
    env = fleet.specs["planner"][1]
    assert env["WF_LLM_BASE_URL"] == done["url"] and done["url"].endswith("/v1")
    assert env["WF_LLM_MODELS"] == "planner=owl-r1,coordinator=big"
    request(tmp_path / "roles", "planner", model="", revision="r2")  # back to the system's model
    assert roles.poll() == ["planner: serving base"]
    assert fleet.specs["planner"][1]["WF_LLM_BASE_URL"] == "http://base/v1"
    assert "model-server-planner" not in pids(fleet)
    time.sleep(0.2)
    assert fleet.crashed() is None  # nothing the switch stopped is mistaken for a crash


def test_adapters_on_one_base_for_the_tool_worker(tmp_path, monkeypatch):
    """`workforce-train roles` asks for a base + LoRA adapters: one model server loads them all and the service
    gets each role's adapter name and the adapter ids (the real switch on the real model server is the kind
    `process` of tests/training/test_roles_loop.py)."""
    fleet = Fleet(tmp_path)
    fleet.start("worker-tool", SLEEPER, {"WF_LLM_BASE_URL": "http://base/v1", "WF_LLM_MODELS": "coordinator=big"})
    fleet.start("planner", SLEEPER, {"WF_LLM_BASE_URL": "http://base/v1"})
    base, adapters = tmp_path / "backbone.gguf", [tmp_path / f"{r}.gguf" for r in ("planner", "caller")]
    for path in (base, *adapters):
        path.write_bytes(b"GGUF")
    server = [sys.executable, "-c", "import http.server, os; "
              "h = type('H', (http.server.BaseHTTPRequestHandler,), {'do_GET': lambda s: (s.send_response(200), "
              "s.end_headers())}); http.server.HTTPServer(('127.0.0.1', int(os.environ['WF_MODEL_SERVER_PORT'])), "
              "h).serve_forever()"]
    real_start = fleet.start
    monkeypatch.setattr(fleet, "start", lambda name, argv, env, metrics_port=0: real_start(
        name, server if name.startswith("model-server") else argv, env, metrics_port))
    try:
        roles = RoleModels(tmp_path / "roles", fleet, ready_timeout_s=20)
        before = pids(fleet)
        named = [{"name": "aumi-planner", "path": str(adapters[0])}, {"name": "aumi-caller", "path": "/missing"}]
        request(tmp_path / "roles", "worker-tool", model=str(base), alias="aumi-backbone", revision="r0",
                adapters=named)
        assert "every adapter needs a name and an existing file" in roles.poll()[0]
        named[1]["path"] = str(adapters[1])
        request(tmp_path / "roles", "worker-tool", model=str(base), alias="aumi-backbone", revision="r1",
                adapters=named, models={"planner": "aumi-planner", "caller": "aumi-caller"})
        assert roles.poll() == ["worker-tool: serving aumi-backbone"]
        after = pids(fleet)
        assert after["planner"] == before["planner"] and after["worker-tool"] != before["worker-tool"]
        assert fleet.specs["model-server-worker-tool"][1]["WF_MODEL_SERVER_LORA"] == (
            f"aumi-planner={adapters[0]},aumi-caller={adapters[1]}")
        env = fleet.specs["worker-tool"][1]
        assert env["WF_LLM_MODELS"] == ("worker:tool=aumi-backbone,planner=aumi-planner,caller=aumi-caller,"
                                        "coordinator=big")
        assert env["WF_LLM_LORA_ADAPTERS"] == "aumi-planner=0,aumi-caller=1"
    finally:
        fleet.stop()
