"""Configuration, only from environment variables (prefix WF_).

Every service reads one `Settings`; a field `foo_bar` is set by `WF_FOO_BAR`.
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WF_", extra="ignore")

    # --- process ---
    service_name: str = "workforce"
    instance_id: str = ""                 # default: <hostname>-<pid>
    log_level: str = "INFO"
    grpc_port: int = 50051
    metrics_port: int = 9464              # 0 = no metrics endpoint
    http_port: int = 8080                 # gateway only
    bind_host: str = "0.0.0.0"

    # --- channel (NATS JetStream); stream settings live in core/channel/layout.py ---
    nats_url: str = "nats://127.0.0.1:4222"
    nats_creds: str = ""                  # path to a .creds file
    nats_user: str = ""                   # this service's NATS user (core/channel/identities.py)
    nats_password: str = ""
    nats_tls_ca: str = ""                 # CA file of the server's certificate (TLS)
    nats_tls_cert: str = ""               # client certificate and key (mutual TLS)
    nats_tls_key: str = ""
    stream_replicas: int = 1              # 3 in a clustered NATS
    ack_wait_s: float = 30.0              # work items: redelivered when not acked/heartbeated in time
    max_deliver: int = 3                  # deliveries of a work item before it is dead-lettered
    backoff_s: str = ""                   # comma-separated redelivery backoff, e.g. "5,15,30"
    control_ack_wait_s: float = 60.0      # planner / coordinator inbox
    event_max_age_s: int = 7 * 24 * 3600
    duplicate_window_s: int = 300
    worker_registry_ttl_s: int = 30

    # --- LLM backend (OpenAI-compatible); empty base URL = the embedded local model ---
    llm_base_url: str = ""
    llm_api_key: str = "EMPTY"
    llm_model: str = "default"
    llm_models: str = ""                  # per-role overrides: "planner=qwen-32b,coordinator=qwen-7b"
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 3
    llm_temperature: float = 0.0
    llm_structured_output: bool = True    # send response_format json_schema
    llm_max_tokens: int = 2048
    embedded_model: str = "Qwen/Qwen2.5-0.5B-Instruct"  # a path or hub id
    embedded_max_new_tokens: int = 512

    # --- orchestration ---
    replan_threshold: int = 2             # failures of a subtask (lineage) that end the task
    task_timeout_s: int = 1800
    subtask_timeout_s: int = 600
    assignment_retries: int = 1           # retries with feedback when the assignment names bad ids
    max_subtasks: int = 12
    control_concurrency: int = 64         # planner / coordinator messages handled at once per replica

    # --- workers ---
    worker_type: str = ""
    worker_concurrency: int = 4
    max_tool_calls: int = 15
    dependency_result_chars: int = 2000   # the "short" result of a dependency given to a worker
    tool_result_chars: int = 800          # a tool result as kept in the history after the cap

    # --- gateway ---
    api_keys: str = ""                    # "name:key,name2:key2" or a bare key; required unless auth is off
    auth_disabled: bool = False           # local mode only, must be set explicitly
    max_question_chars: int = 20_000
    max_answer_format_chars: int = 4_000
    max_files: int = 10
    max_file_bytes: int = 25 * 1024 * 1024
    max_request_bytes: int = 60 * 1024 * 1024
    max_metadata_entries: int = 32
    max_idempotency_key_chars: int = 200
    list_limit_max: int = 500

    def model_for(self, role: str) -> str:
        """The model name for a role ("planner", "coordinator", "worker:web", …)."""
        for pair in filter(None, (p.strip() for p in self.llm_models.split(","))):
            name, _, model = pair.partition("=")
            if name.strip() == role or name.strip() == role.split(":")[0]:
                return model.strip()
        return self.llm_model

    def backoff(self) -> list[float]:
        return [float(x) for x in self.backoff_s.split(",") if x.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


Field  # re-exported for services that extend Settings
