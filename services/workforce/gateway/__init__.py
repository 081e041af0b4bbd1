"""The gateway: the public gRPC `Workforce` service, the HTTP API, and an OpenAI-compatible chat endpoint."""
