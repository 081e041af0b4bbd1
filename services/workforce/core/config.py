"""Configuration, only from environment variables (prefix WF_).

Every service reads one `Settings`; a field `foo_bar` is set by `WF_FOO_BAR`.
"""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WF_", extra="ignore")

    # --- process ---
    service_name: str = "workforce"
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"   # uvloop when installed
    instance_id: str = ""                 # default: <hostname>-<pid>
    log_level: str = "INFO"
    log_format: str = "text"              # text | json (one JSON object per line, task_id on every task's line)
    grpc_port: int = 50051
    metrics_port: int = 9464              # 0 = no metrics endpoint
    http_port: int = 8080                 # gateway only
    bind_host: str = "0.0.0.0"
    otlp_endpoint: str = ""               # OTLP/HTTP collector for traces, e.g. http://otel-collector:4318; "" = off
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)  # share of new traces kept (a child follows its parent)

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
    control_ack_wait_s: float = 6.0       # planner / coordinator inbox: handlers heartbeat every third of it, so a
                                          # dead replica's messages move to a live one within this time
    event_max_age_s: int = 7 * 24 * 3600   # events of a task (stream max age); 0 = keep forever
    duplicate_window_s: int = 300
    worker_registry_ttl_s: int = 30

    # --- LLM backend: one OpenAI-compatible endpoint (vLLM, llama.cpp, OpenAI, …); `make run` starts a local one ---
    llm_base_url: str = ""
    llm_api_key: str = "EMPTY"
    llm_model: str = "default"
    llm_models: str = ""                  # per-role overrides: "planner=qwen-32b,coordinator=qwen-7b"
    llm_lora_adapters: str = ""           # model names that are LoRA adapters of a llama.cpp server, with their
                                          # adapter ids: "caller-r1=0,planner-r1=1"; requests for them carry
                                          # llama.cpp's `lora` field (that adapter at scale 1)
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 3
    llm_temperature: float = 0.0
    llm_structured_output: bool = True    # constrain outputs that have a JSON schema
    llm_schema_mode: str = "response_format"  # response_format (OpenAI, vLLM) | llguidance (llama.cpp: compact JSON)
    llm_max_tokens: int = 2048            # cap per call; calls with a JSON schema get a cap sized to the schema
    llm_tool_mode: str = "native"         # native: OpenAI tool calls | json: one schema-constrained JSON step

    # --- orchestration ---
    replan_threshold: int = 2             # failures of a subtask (lineage) that end the task
    task_timeout_s: int = 1800
    task_token_budget: int = 0            # default tokens a task may use (every LLM call counted); 0 = no limit
    # Fault injection, for the crash tests only: "<message kind>:<marker file>" makes the coordinator exit like a
    # kill -9 right after committing a transition of that kind, before publishing its outbox (once: the marker).
    fault_crash_after_commit: str = ""
    sweep_period_s: float = 2.0           # how often the sweeper leader checks deadlines and stalled submits
    submit_grace_s: float = 30.0          # a task still QUEUED without a plan this long is handed to the planner again
    subtask_timeout_s: int = 600
    # "Still working" signals (task.planning with the PLANNING record, subtask.started) are sent only for a step
    # still running after this long; quick steps are told by their outcome alone. 0 = always send them at once.
    progress_signal_delay_s: float = Field(1.0, ge=0.0)
    # The coordinator writes a task record's progress (subtasks done, usage, non-final statuses) at most this
    # often per task; a final status is written at once. 0 = on every visible change.
    record_progress_interval_s: float = Field(1.0, ge=0.0)
    assignment_retries: int = 1           # retries with feedback when the assignment names bad ids
    max_subtasks: int = 12
    subtask_chars: int = 600              # longest subtask text the planner may write
    result_chars: int = 4000              # longest result a worker may write ({content, failed})
    tool_arg_chars: int = 8000            # longest string argument of a tool call in a constrained (json) step
    answer_chars: int = 2000              # longest final answer the planner may write
    control_max_deliver: int = 5          # deliveries of a planner/coordinator message before the task fails
    control_concurrency: int = 64         # planner / coordinator messages handled at once per replica

    # --- human approval of plans (tasks submitted with review_plan / review_replans) ---
    approval_timeout_s: int = Field(900, ge=1)   # how long a proposed plan waits for a person
    approval_timeout_policy: Literal["approve", "reject"] = "reject"   # what happens when nobody answers
    approvers: str = ""                   # API key names that may decide on anyone's task ("*" = every key);
                                          # a task's owner may always decide on it
    # --- human approval of risky tool calls (workers; decided by the same people as plans) ---
    approve_tools: str = ""               # <worker_type>.<tool> patterns, comma-separated (fnmatch: "code.*",
                                          # "*.browser_fill"); a matching call waits for a person's approval
    tool_approval_timeout_s: int = Field(300, ge=1)   # how long a gated call waits (counts against the subtask's time)
    tool_approval_timeout_policy: Literal["approve", "deny"] = "deny"   # what happens when nobody answers

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
    max_json_bytes: int = 1024 * 1024     # JSON request bodies (uploads use max_request_bytes)
    list_scan_max: int = 1000             # index entries one listing page examines (status filters)

    # --- tenancy and quotas (gateway); an identity is an API-key name ---
    admin_identities: str = ""            # names that see and cancel every tenant's tasks: "ops,audit"
    quota_tasks_in_flight: int = 100      # unfinished tasks per identity; 0 = no limit
    quota_submissions_per_minute: int = 600  # per identity, sliding window; 0 = no limit
    quota_overrides: str = ""             # per identity "name=in_flight/per_minute,…", e.g. "batch=500/3000"
    quota_retry_after_s: int = 10         # Retry-After when the in-flight quota is full

    # --- retention (0 = keep forever); keep each longer than the longest task deadline ---
    task_ttl_s: int = 30 * 24 * 3600      # task records and the listing index (KV TTL / stream max age)
    plan_ttl_s: int = 30 * 24 * 3600      # plans
    file_ttl_s: int = 14 * 24 * 3600      # uploaded and produced files (object store TTL)
    idempotency_ttl_s: int = 24 * 3600    # how long an idempotency key maps to its task

    def model_for(self, role: str) -> str:
        """The model name for a role ("planner", "coordinator", "worker:web", …)."""
        for pair in filter(None, (p.strip() for p in self.llm_models.split(","))):
            name, _, model = pair.partition("=")
            if name.strip() == role or name.strip() == role.split(":")[0]:
                return model.strip()
        return self.llm_model

    def lora_adapter(self, model: str) -> int | None:
        """The llama.cpp adapter id of a model name listed in WF_LLM_LORA_ADAPTERS, else None."""
        for pair in filter(None, (p.strip() for p in self.llm_lora_adapters.split(","))):
            name, _, adapter = pair.partition("=")
            if name.strip() == model and adapter.strip().isdigit():
                return int(adapter)
        return None

    def backoff(self) -> list[float]:
        return [float(x) for x in self.backoff_s.split(",") if x.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

