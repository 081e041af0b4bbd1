"""AutoAct group-planning prompts (plan / tool / reflect agents) over a ReAct-style scratchpad.

The scratchpad is the history: turns `thought`, `action` (`Type[argument]`), `observation`. The plan agent
writes the next thought and action type, the tool agent the bracket argument for that type, the reflect
agent (after a Finish) a thought and `Reflect[right|wrong]`. Tools are `{name, description}` where the
description is the tool's usage line (e.g. from AutoAct's HotpotQA_Tools.json).
"""

from .chat_format import bounded

INSTRUCTION = """I want you to be a good multi-hop question answerer, solving a question answering task with interleaving Thought, Action, Observation steps. Thought can reason about the current situation, and Action can be these types:
{tools}({n_finish}) Finish[answer], which returns a definite answer. For example, Finish[Richard Nixon] (If it is a judgement question, please Finish[yes] or Finish[no])
({n_reflect}) Reflect[right/wrong], which reflects the answer right or wrong based on the context history. For example, Reflect[right]
Note that Reflect must be the next Action after Finish. You may take as many steps as necessary.
Question: {question}

{scratchpad}"""  # noqa: E501

ASK = {
    "plan": "Write the next Thought and the type of the next Action (only the type, e.g. Action: Retrieve)."
    "\nThought:",
    "tool": "Write only the argument for the Action {action_type}, the text that goes inside the brackets.\n"
    "Action: {action_type}[",
    "reflect": "The last action was Finish. Check the answer against the context: write a Thought and then "
    "Action: Reflect[right] or Action: Reflect[wrong].\nThought:",
}
FIXED_ACTIONS = ("Finish", "Reflect")


def scratchpad(history: list[dict]) -> str:
    lines = []
    for turn in history:
        label = {"thought": "Thought", "action": "Action", "observation": "Observation"}.get(turn["from"])
        if label:
            lines.append(f"{label}: {turn['value']}")
    return "\n".join(lines)


def action_types(tools: list[dict]) -> list[str]:
    return [t["name"] for t in tools] + list(FIXED_ACTIONS)


def render(role: str, question: str, tools: list[dict], history: list[dict], action_type: str = "") -> str:
    if role not in ASK:
        raise ValueError(f"AutoAct has no role {role!r}; roles: plan, tool, reflect")
    listed = "".join(f"({i}) {t.get('description') or t['name']}\n" for i, t in enumerate(tools, 1))
    body = INSTRUCTION.format(
        tools=listed,
        n_finish=len(tools) + 1,
        n_reflect=len(tools) + 2,
        question=question,
        scratchpad=scratchpad(history),
    )
    return body.rstrip() + "\n" + ASK[role].format(action_type=action_type)


PLAN_SCHEMA_BASE = {"type": "object", "required": ["thought", "action_type"], "additionalProperties": False}


def schema_for(role: str, tools: list[dict], thought_chars: int = 0) -> dict:
    return bounded(_schema(role, tools), thought_chars) if role != "tool" else _schema(role, tools)


def _schema(role: str, tools: list[dict]) -> dict:
    if role == "plan":
        return PLAN_SCHEMA_BASE | {
            "properties": {
                "thought": {"type": "string"},
                "action_type": {"type": "string", "enum": action_types(tools)},
            }
        }
    if role == "tool":
        return {
            "type": "object",
            "properties": {"argument": {"type": "string"}},
            "required": ["argument"],
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": {
            "thought": {"type": "string"},
            "verdict": {"type": "string", "enum": ["right", "wrong"]},
        },
        "required": ["thought", "verdict"],
        "additionalProperties": False,
    }
