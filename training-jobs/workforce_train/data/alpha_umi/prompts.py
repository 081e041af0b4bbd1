"""The α-UMi prompt templates (ToolBench variant), exactly as the published training data uses them.

Placeholders are filled in this order: {doc}, {tool_names}, {history}, {thought} — the order matters only
if a tool description itself contains a placeholder, and is kept for byte-identical records.
"""

# One source for the strings: the serving side's compatibility family renders the same prompts.
from workforce.core.toollearning.alpha_umi_format import (  # noqa: E402
    BACKBONE,
    CALLER,
    PLANNER,
    SUFFIX,
    SUMMARIZER,
)

TEMPLATES = {"backbone": BACKBONE, "planner": PLANNER, "caller": CALLER, "summarizer": SUMMARIZER}
SPEAKER = SUFFIX  # what the model is asked to continue with, appended to the filled template

NEXT_CALLER = "Next: caller."
NEXT_CONCLUSION = "Next: conclusion."
NEXT_GIVE_UP = "Next: give up."
# A caller turn the ToolBench annotator marked as a hallucinated function: never a training target.
HALLUCINATED = "invalid_hallucination_function_name"
