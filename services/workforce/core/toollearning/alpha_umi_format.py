"""The α-UMi compatibility prompt family: the exact input strings of the α-UMi (GLPFT) training data.

Histories are lists of `{from, value}` turns (user, assistant, caller, observation, conclusion).
The strings rendered here equal the `input` fields of the authors' train_{planner,caller,summarizer,
backbone}.json; the model itself sees `system: ` + input (the training prefix), see `model_prompt`.
"""

from .tooldocs import doc_block, tool_names

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

BACKBONE = """You have assess to the following apis:
{doc}
The conversation history is:
{history}
You should answer the action of next step in the following format:
The thought to solve the question,
Action: the name of api that should be called in this step, should be exactly in [{tool_names}],
Action Input: the api call request.
Once you think the question is finished, output conclusion: the final answer of the question or give up if you think you cannot answer this question.
"""  # noqa: E501 (the training text, verbatim)

SUFFIX = {
    "planner": " assistant: ",
    "caller": " caller: ",
    "summarizer": " conclusion: ",
    "backbone": " assistant: ",
}
TEMPLATES = {"planner": PLANNER, "caller": CALLER, "summarizer": SUMMARIZER, "backbone": BACKBONE}
TRAINING_PREFIX = "system: "
STOP = ["</s>"]

# DFSDT: the user turn ToolBench inserts before re-planning a state whose earlier actions all failed.
DIVERSITY_HEAD = (
    "This is not the first time you try this task, all previous trails failed.\nBefore you generate "
    "my thought for this state, I will first show you your previous actions for this state, and then "
    "you must generate actions that is different from all of them. Here are some previous actions "
    "candidates:\n"
)
DIVERSITY_TAIL = (
    "\n\nRemember you are now in the intermediate state of a trail, you will first analyze the now "
    "state and previous action candidates, then make actions that is different from all the previous."
)


def history_text(turns: list[dict]) -> str:
    """`role: value</s>` per turn; observations carry no `</s>`."""
    out = []
    for turn in turns:
        role, value = turn["from"], turn["value"]
        out.append(f"observation: {value}" if role == "observation" else f"{role}: {value}</s>")
    return "".join(out)


def backbone_history_text(turns: list[dict]) -> str:
    """The backbone sees each planner turn merged with the caller / conclusion turn after it."""
    out = []
    for i, turn in enumerate(turns):
        role, value = turn["from"], turn["value"]
        following = turns[i + 1] if i + 1 < len(turns) else None
        if role == "assistant":
            if "Next: give up." in value:
                span = value.replace("Next: give up.", "").strip() + "\nconclusion: give up."
            elif following and following["from"] == "caller":
                span = value.replace("Next: caller.", "").strip() + "\n" + following["value"]
            elif following and following["from"] == "conclusion":
                span = value.replace("Next: conclusion.", "").strip() + "\nconclusion: " + following["value"]
            else:
                span = value
            out.append(f"assistant: {span}</s>")
        elif role == "user":
            out.append(f"user: {value}</s>")
        elif role == "observation":
            out.append(f"observation: {value}")
    return "".join(out)


def render(role: str, docs: list[dict], history: list[dict], thought: str = "") -> str:
    """The training-format input of `role` (planner | caller | summarizer | backbone)."""
    if role not in TEMPLATES:
        raise ValueError(f"the alpha-umi family has no role {role!r}; roles: {', '.join(TEMPLATES)}")
    text = TEMPLATES[role].replace("{doc}", doc_block(docs)).replace("{tool_names}", tool_names(docs))
    history_str = backbone_history_text(history) if role == "backbone" else history_text(history)
    text = text.replace("{history}", history_str)
    if role == "caller":
        text = text.replace("{thought}", thought)
    return text + SUFFIX[role]


def model_prompt(prompt: str) -> str:
    """What the model is given: the training input prefix plus the rendered input."""
    return TRAINING_PREFIX + prompt
