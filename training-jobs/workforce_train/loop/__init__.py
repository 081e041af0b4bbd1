"""The OWL learning loop, closed: from the running system's trajectories to a better planner, served by the same
system, and measured again (`workforce-train loop`).

Modules: `config` (loop.yaml), `pipeline` (the stages), `base_model` (GGUF → transformers), `export_gguf`
(trained weights → GGUF), `register` (serve it as the planner's model), `metrics` (before / after figures),
`jobs` (the loop as a chain of Kubernetes Jobs), `commands` (the CLI).
"""
