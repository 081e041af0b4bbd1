"""Entry point: `workforce-service model-server` — llama.cpp's native HTTP server (via the `xllamacpp` wheel: a
prebuilt llama.cpp, nothing compiled here) serving one GGUF model with OpenAI-compatible chat completions,
JSON-schema and grammar-constrained decoding (LLGuidance), continuous batching over parallel slots, streaming
with usage, /health and Prometheus /metrics. Runs until SIGTERM / SIGINT."""

import logging
import signal
import sys
import time

from ..core.local_model import ModelNotFound, resolve
from ..core.logging import setup_logging
from .settings import ModelServerSettings

log = logging.getLogger(__name__)
VERBOSITY = {"error": 1, "warn": 2, "info": 3}


def build_params(settings: ModelServerSettings, source):
    import xllamacpp

    params = xllamacpp.CommonParams()
    if source.path:
        params.model.path = source.path
    else:  # a hub repo: llama.cpp downloads it when the hub is reachable
        params.model.hf_repo = source.repo_id
        params.model.hf_file = source.filename
    params.model_alias = {source.name}
    params.hostnames = [settings.host]
    params.port = settings.port
    params.n_parallel = settings.parallel
    params.n_ctx = settings.ctx
    params.cpuparams.n_threads = settings.n_threads()
    params.cpuparams_batch.n_threads = settings.n_threads()
    params.cache_ram_mib = settings.cache_ram_mib
    params.use_jinja = True
    params.endpoint_metrics = True
    params.ui = False
    params.warmup = True
    params.verbosity = VERBOSITY.get(settings.log_level, 2)
    if settings.api_key:
        params.api_keys = [settings.api_key]
    adapters = []
    for pair in filter(None, (p.strip() for p in settings.lora.split(","))):
        _, _, path = pair.partition("=")
        adapters.append(xllamacpp.CommonAdapterLoraInfo(path or pair, 0.0))  # scale 0: off unless requested
    if adapters:
        params.lora_adapters = adapters
        params.lora_init_without_apply = True
    return params


def main() -> None:
    settings = ModelServerSettings()
    setup_logging("INFO", service="model-server")
    try:
        source = resolve(settings.local_model, settings.alias)
    except ModelNotFound as exc:
        print(f"model-server: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        import xllamacpp
    except ImportError:
        print("model-server: the `modelserver` extra is not installed (pip install -e '.[modelserver]')",
              file=sys.stderr)
        sys.exit(2)
    started = time.perf_counter()
    server = xllamacpp.Server(build_params(settings, source))
    log.info("serving %s (%s) at %s/v1 in %.1f s, %d threads, %d slots", source.name, source.path or source.repo_id,
             server.listening_address, time.perf_counter() - started, settings.n_threads(), settings.parallel)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    del server
    log.info("model server stopped")


if __name__ == "__main__":
    main()
