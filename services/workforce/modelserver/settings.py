"""The model server's configuration, from environment variables (WF_MODEL_SERVER_*, WF_LOCAL_MODEL)."""

import os

from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WF_MODEL_SERVER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8090
    threads: int = 0            # CPU threads for decoding; 0 = all cores
    parallel: int = 2           # request slots decoded together (continuous batching)
    ctx: int = 8192             # context tokens shared by the slots
    cache_ram_mib: int = 64     # host-memory cache of earlier prompts (llama.cpp's default of GBs would grow the RSS)
    alias: str = ""             # the model name clients send; default: from the model file
    lora: str = ""              # name=path.gguf,… LoRA adapters on the base model (per-request selection)
    api_key: str = ""           # require this bearer key (the chart sets it from a Secret)
    log_level: str = "warn"     # llama.cpp's own log: error | warn | info

    @property
    def local_model(self) -> str:
        return os.environ.get("WF_LOCAL_MODEL", "")

    def n_threads(self) -> int:
        return self.threads or max(1, os.cpu_count() or 1)
