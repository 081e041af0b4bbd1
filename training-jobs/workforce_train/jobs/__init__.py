"""Kubernetes Jobs for training steps: render (YAML), submit, status, logs."""

from .config import JobSettings
from .render import JobSpec, render_job

__all__ = ["JobSettings", "JobSpec", "render_job"]
