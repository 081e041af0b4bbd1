"""The task channel on NATS JetStream: streams and consumers, KV state, events, object store."""

from .client import Channel, connect
from .consumer import ConsumerLoop
from .layout import Layout

__all__ = ["Channel", "connect", "Layout", "ConsumerLoop"]
