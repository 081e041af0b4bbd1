"""The local model server: one OpenAI-compatible process that serves a GGUF model with llama.cpp
(llama-cpp-python's server) — chat completions, JSON-schema constrained outputs, tool calls, streaming,
usage. `make run` starts it and points every service at it; the chart runs it as its small-footprint model
option. No service loads a model itself."""
