"""The α-UMi prompt templates (ToolBench variant), exactly as the published training data uses them.

Placeholders are filled in this order: {doc}, {tool_names}, {history}, {thought} — the order matters only
if a tool description itself contains a placeholder, and is kept for byte-identical records.
"""

BACKBONE = """You have assess to the following apis:
{doc}
The conversation history is:
{history}
You should answer the action of next step in the following format:
The thought to solve the question,
Action: the name of api that should be called in this step, should be exactly in [{tool_names}],
Action Input: the api call request.
Once you think the question is finished, output conclusion: the final answer of the question or give up if you think you cannot answer this question.
"""

PLANNER = """You have assess to the following apis:
{doc}
The conversation history is:
{history}
You are the assistant to plan what to do next and whether is caller's or conclusion's turn to answer.
Answer with a following format:
The thought of the next step, followed by Next: caller or conclusion or give up."""

CALLER = """You have assess to the following apis:
{doc}
The conversation history is:
{history}
The thought of this step is:
{thought}
Base on the thought make an api call in the following format:
Action: the name of api that should be called in this step, should be exactly in [{tool_names}],
Action Input: the api call request."""

SUMMARIZER = """Make a conclusion based on the conversation history:
{history}"""

TEMPLATES = {"backbone": BACKBONE, "planner": PLANNER, "caller": CALLER, "summarizer": SUMMARIZER}
# What the model is asked to continue with, appended to the filled template.
SPEAKER = {
    "backbone": " assistant: ",
    "planner": " assistant: ",
    "caller": " caller: ",
    "summarizer": " conclusion: ",
}

NEXT_CALLER = "Next: caller."
NEXT_CONCLUSION = "Next: conclusion."
NEXT_GIVE_UP = "Next: give up."
# A caller turn the ToolBench annotator marked as a hallucinated function: never a training target.
HALLUCINATED = "invalid_hallucination_function_name"
