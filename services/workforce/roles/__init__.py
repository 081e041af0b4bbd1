"""Role-model services: α-UMi planner / caller / summarizer and AutoAct plan / tool / reflect.

`workforce-service role-<role>` serves `RoleModel.Generate` for one role: render the role's prompt in the
requested family, call the OpenAI-compatible backend, parse and validate the output into a typed message,
retry on invalid output. This folder is the service only (`main.py`, the gRPC servicer `service.py`,
`metrics.py`); the prompt families, parsers, generator and role clients are the shared tool-learning library
in core/toollearning/ (worker-tool and `workforce-eval` run the same generator in-process).

Configuration (WF_*, see core/toollearning/settings.py and core/config.py):
  WF_LLM_BASE_URL, WF_LLM_MODELS="planner=planner-lora,caller=caller-lora,…"   a model or LoRA per role
  WF_ROLE_PROMPT_FAMILY=chat|alpha-umi      the family when a request names none
  WF_ROLE_COMPLETION_API=completions|chat   how the alpha-umi family reaches the model (raw prompt, or one
                                            user message for servers without /v1/completions)
  WF_ROLE_MAX_ATTEMPTS=3, WF_ROLE_RETRY_TEMPERATURE=0.7, WF_ROLE_PLANNER_DEFAULT_NEXT="" (caller|conclusion),
  WF_ROLE_MAX_TOKENS=1024, WF_ROLE_THOUGHT_MAX_CHARS=2000
gRPC status: INVALID_ARGUMENT for a bad request, FAILED_PRECONDITION when every attempt was invalid (the
last raw output in the `wf-raw-output-bin` trailer), UNAVAILABLE when the model backend failed. For the
AutoAct roles, family "alpha-umi" means the completion-style prompt (no JSON).
"""
