"""Workforce on Kubernetes: planner → coordinator → workers over a NATS JetStream task channel."""

__version__ = "0.1.0"
