"""Fixtures shared by the document and code worker tests (a pytest plugin: test modules name it in
`pytest_plugins`, so each fixture exists once per session): a real nats-server (the object store for attached
and produced files), the scripted OpenAI-compatible LLM, a scripted transcription endpoint, the whole
system."""

import threading
import time

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Request

from tests.support.scripted_llm import ScriptedLLM
from workforce.core.channel import connect
from workforce.core.config import Settings
from workforce.local.nats_server import NatsServer, free_port


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory):
    server = NatsServer(store_dir=str(tmp_path_factory.mktemp("nats"))).start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nats_channel(nats_server):
    channel = await connect(Settings(nats_url=nats_server.url), name="worker-tests")
    yield channel
    await channel.close()


@pytest.fixture(scope="session")
def scripted_llm(tmp_path_factory):
    llm = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield llm
    llm.stop()


class TranscriptionServer:
    """A scripted OpenAI-compatible `/v1/audio/transcriptions` endpoint (the speech side of the one fake)."""

    def __init__(self, text: str = "the meeting starts at nine thirty"):
        self.text = text
        self.requests: list[dict] = []
        self.port = free_port()
        app = FastAPI()

        @app.post("/v1/audio/transcriptions")
        async def transcribe(request: Request):
            form = await request.form()
            upload = form["file"]
            data = await upload.read()
            self.requests.append(
                {
                    "model": form.get("model"),
                    "filename": upload.filename,
                    "data": data,
                    "content_type": upload.content_type,
                }
            )
            return {"text": self.text}

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "TranscriptionServer":
        self.thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/docs", timeout=0.5)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("transcription server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def transcription_server():
    server = TranscriptionServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_executor(tmp_path_factory):
    """The sandbox executor (`workforce-service sandbox`) as its own process, as this user runs it."""
    from tests.sandbox.executor import start_executor

    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    executor = start_executor(free_port(), log, {"WF_CODE_CPU_S": "30", "WF_CODE_WALL_S": "60",
                                                 "WF_CODE_MEMORY_MB": "2048"}).wait_ready()
    yield executor
    executor.stop()


@pytest.fixture(scope="session")
def workers_system(tmp_path_factory):
    """The whole system (gateway, planner, coordinator) with one document and one code worker, each its own
    OS process, over a real nats-server and the scripted LLM; shared by the two workers' end-to-end tests."""
    from tests.support.system import System

    system = System(
        tmp_path_factory.mktemp("workers-system"),
        workers={"document": 1, "code": 1},
        env={"WF_CODE_CPU_S": "30", "WF_CODE_WALL_S": "60", "WF_SUBTASK_TIMEOUT_S": "120"},
    )
    system.start(timeout=180)
    yield system
    system.stop()
