"""Where and how training Jobs run, from WF_TRAIN_* environment variables (pydantic-settings).

Lists use commas: WF_TRAIN_NODE_SELECTOR="cloud.google.com/gke-accelerator=nvidia-h100-80gb",
WF_TRAIN_TOLERATIONS="nvidia.com/gpu=present:NoSchedule,dedicated=training:NoSchedule" (key=value:effect,
or key:effect for operator Exists), WF_TRAIN_SECRET_ENV="WF_LLM_API_KEY=llm:api-key,HF_TOKEN=hf:token"
(ENV=secret:key), WF_TRAIN_SECRET_ENV_FROM="workforce-train-env" (whole secrets as env).
"""

from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import __version__


def _pairs(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


class JobSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WF_TRAIN_", extra="ignore")

    namespace: str = "workforce"
    image: str = f"workforce-train:{__version__}"  # built from training-jobs/Dockerfile
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: str = ""
    service_account: str = ""
    node_selector: str = "cloud.google.com/gke-accelerator=nvidia-h100-80gb"
    tolerations: str = "nvidia.com/gpu=present:NoSchedule"
    gpu_resource: str = "nvidia.com/gpu"
    data_pvc: str = "workforce-train-data"
    data_mount: str = "/data"
    checkpoint_pvc: str = "workforce-train-checkpoints"
    checkpoint_mount: str = "/checkpoints"
    shm_size: str = "64Gi"
    secret_env: str = ""
    secret_env_from: str = ""
    backoff_limit: int = 2
    active_deadline_s: int = 3 * 24 * 3600
    ttl_after_finished_s: int = 7 * 24 * 3600
    cpu_per_gpu: int = 12
    memory_per_gpu: str = "100Gi"
    master_port: int = 29500

    def node_selector_map(self) -> dict[str, str]:
        out = {}
        for pair in _pairs(self.node_selector):
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"WF_TRAIN_NODE_SELECTOR: {pair!r} is not key=value")
            out[key.strip()] = value.strip()
        return out

    def toleration_list(self) -> list[dict]:
        out = []
        for item in _pairs(self.tolerations):
            spec, _, effect = item.rpartition(":")
            if not spec:
                raise ValueError(f"WF_TRAIN_TOLERATIONS: {item!r} is not key[=value]:Effect")
            key, sep, value = spec.partition("=")
            toleration = {"key": key, "operator": "Equal" if sep else "Exists", "effect": effect}
            if sep:
                toleration["value"] = value
            out.append(toleration)
        return out

    def secret_env_list(self) -> list[dict]:
        out = []
        for item in _pairs(self.secret_env):
            env, sep, ref = item.partition("=")
            secret, sep2, key = ref.partition(":")
            if not (sep and sep2 and env and secret and key):
                raise ValueError(f"WF_TRAIN_SECRET_ENV: {item!r} is not ENV=secret:key")
            out.append({"name": env, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
        return out

    def secret_env_from_list(self) -> list[dict]:
        return [{"secretRef": {"name": name}} for name in _pairs(self.secret_env_from)]
