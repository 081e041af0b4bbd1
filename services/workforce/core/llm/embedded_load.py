"""Loading the embedded model: a local directory, or a hub id (from the cache, or downloaded).

Without network a hub id must fail fast and say how to fix it, instead of hanging on the hub client's
retries: a model already in the local cache is used as is (no network); otherwise the hub is probed once
with a short timeout before downloading.
"""

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from .client import LLMError

FIX = (
    "set WF_EMBEDDED_MODEL=/path/to/a/local/model/dir, "
    "or WF_LLM_BASE_URL=http://host:port/v1 for an OpenAI-compatible endpoint"
)
PROBE_TIMEOUT_S = 3.0


def model_label(name: str) -> str:
    """A short model name for metrics and results: the directory name, or the hub id."""
    path = Path(name).expanduser()
    return path.name if path.is_dir() else name


def check_available(name: str) -> bool:
    """Fail fast, without loading anything, when the model cannot be loaded here (for `make run`).

    Returns whether it must be downloaded first; raises LLMError with one line saying why and how to fix it.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise LLMError(f"embedded model {name!r} could not be loaded: {path} has no config.json; {FIX}")
        return False
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") > 1  # hub ids are "org/name"
    if looks_like_path:
        raise LLMError(f"embedded model {name!r} could not be loaded: no such model directory; {FIX}")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return False
    if _env_true("HF_HUB_OFFLINE") or not hub_reachable():
        raise LLMError(
            f"embedded model {name!r} could not be loaded: the model hub is unreachable "
            f"and the model is not in the local cache; {FIX}")
    return True


def load_model(name: str):
    """(model, tokenizer) on CPU in float32; LLMError with one line saying why and how to fix it."""
    download = check_available(name)
    source = str(Path(name).expanduser()) if Path(name).expanduser().is_dir() else name
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=not download)
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=not download, dtype=torch.float32)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise LLMError(f"embedded model {name!r} could not be loaded: {reason}; {FIX}") from exc
    model.eval()
    return model, tokenizer


def hub_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the model hub (HF_ENDPOINT) opens within the timeout, DNS included."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    reachable = threading.Event()

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                reachable.set()
        except OSError:
            pass

    # A thread, because name resolution ignores the socket timeout and can stall for long.
    thread = threading.Thread(target=probe, daemon=True, name="hub-probe")
    thread.start()
    thread.join(timeout_s)
    return reachable.is_set()


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
