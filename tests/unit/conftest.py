import pytest

from tests.tinymodel import make_tiny_chat_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random chat model saved on disk (no download), shared by the whole session."""
    return make_tiny_chat_model(tmp_path_factory.mktemp("tiny-model"))
