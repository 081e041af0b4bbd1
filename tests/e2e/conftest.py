import pytest

from tests.support.system import System


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """One whole system per test module: nats-server, scripted LLM, gateway, planner, coordinator, 2 echo workers."""
    s = System(tmp_path_factory.mktemp("system"), workers={"echo": 2})
    s.start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _fresh_script(request):
    """Each test scripts the LLM from scratch."""
    if "system" in request.fixturenames:
        request.getfixturevalue("system").llm.reset()
    yield
