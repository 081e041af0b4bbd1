"""Training jobs for Workforce: dataset runner, scorers, data builders, trainers and Kubernetes Jobs."""

__version__ = "0.1.0"
