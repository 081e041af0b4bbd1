"""The dataset runner: a JSONL dataset through the deployed gateway (HTTP or gRPC), n samples per question,
bounded concurrency, retries on transport errors only, resumable, one record per attempt."""

from .connect import make_gateway
from .dataset import Question, load_dataset
from .gateway import AuthError, Gateway, GatewayError, TransportError
from .run import RunConfig, run_dataset

__all__ = [
    "AuthError",
    "Gateway",
    "GatewayError",
    "Question",
    "RunConfig",
    "TransportError",
    "load_dataset",
    "make_gateway",
    "run_dataset",
]
