"""Tool-use message histories → α-UMi conversations (`user`, `assistant`, `caller`, `observation`,
`conclusion` turns).

Two sources:
- ToolBench answers (`answer_generation` with `function` and `train_messages`), first reduced to
  `{tools, instruction, chains}` ("stage 1") and then turned into conversations ("stage 2");
- our own trajectories: a worker's OpenAI-style message history (`tool_calls` / `tool` messages).
The planner turn is the thought followed by ` Next: caller.`, ` Next: conclusion.` or ` Next: give up.`.
"""

import json

from .prompts import NEXT_CALLER, NEXT_CONCLUSION, NEXT_GIVE_UP

FINISH = "Finish"


def tool_doc_from_openai(function: dict) -> dict:
    """One tool in α-UMi's doc format: name (last 64 chars), description (first 256), "type, description"
    per argument (last 256 chars of the description)."""
    properties = (function.get("parameters") or {}).get("properties") or {}
    inputs = {}
    for arg, spec in properties.items():
        kind = spec.get("type", "")
        inputs[arg] = f"{kind}, {spec['description'][-256:]}" if "description" in spec else kind
    return {
        "Name": function["name"][-64:],
        "function": (function.get("description") or "")[:256],
        "input": inputs,
    }


def stage1_from_answer(answer: dict) -> dict | None:
    """A ToolBench answer file → `{tools, instruction, chains}`; None when it has no training messages."""
    generation = answer.get("answer_generation") or {}
    if "train_messages" not in generation or not generation["train_messages"]:
        return None
    tools = [tool_doc_from_openai(f) for f in generation.get("function", []) if f.get("name") != FINISH]
    return {"tools": tools, "instruction": generation["query"], "chains": generation["train_messages"][-1]}


def _finish_outcome(arguments, content) -> tuple[bool, str]:
    """(gave_up, final_answer) of a Finish call. Arguments are often truncated or invalid JSON; then the
    answer is cut out of the text after `"final_answer": `."""
    parsed = arguments
    if not isinstance(arguments, dict):
        try:
            parsed = json.loads(arguments)
        except (TypeError, ValueError):
            parsed = None
    if isinstance(parsed, dict) and "return_type" in parsed:
        if parsed["return_type"] == "give_up_and_restart":
            return True, ""
        return False, parsed.get("final_answer", "none")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if "give_up_and_restart" in text:
        return True, ""
    marker = '"final_answer": '
    if marker in text:
        return False, text[text.index(marker) + len(marker) :].strip().strip("}").strip('"')
    return False, content if content is not None else "none"


def _observation(content) -> str:
    """ToolBench function results are `{"error": …, "response": …}` JSON; the response is the observation."""
    try:
        return json.loads(content)["response"]
    except (TypeError, ValueError, KeyError):
        marker = '"response":'
        text = content if isinstance(content, str) else ""
        return text[text.index(marker) + len(marker) :] if marker in text else ""


def _calls(message: dict) -> list[tuple[str, str]]:
    if message.get("function_call"):
        call = message["function_call"]
        return [(call["name"], call.get("arguments", ""))]
    return [
        (c["function"]["name"], c["function"].get("arguments", "")) for c in message.get("tool_calls") or []
    ]


def conversation_from_chain(
    instruction: str,
    chain: list[dict],
    *,
    skip: int = 2,
    unwrap_observations: bool = True,
    conclude_without_call: bool = False,
    failed: bool = False,
) -> list[dict]:
    """Messages (after the first `skip`: system prompt and query) → α-UMi turns.

    ToolBench ends with a Finish call and its assistant messages without a call are chatter that the
    published data drops. Our workers end with an assistant message without a call: with
    `conclude_without_call` it becomes the conclusion (or a give-up when the worker reported `failed`).
    """
    turns = [{"from": "user", "value": instruction}]
    for message in chain[skip:]:
        role = message.get("role")
        if role == "assistant":
            content = message.get("content")
            span = content + "\n" if content is not None else ""
            calls = _calls(message)
            if not calls:
                if not conclude_without_call:
                    continue
                if failed:
                    turns.append({"from": "assistant", "value": " " + NEXT_GIVE_UP})
                else:
                    turns.append({"from": "assistant", "value": " " + NEXT_CONCLUSION})
                    turns.append({"from": "conclusion", "value": content or "none"})
                continue
            for name, arguments in calls:
                if name == FINISH:
                    gave_up, answer = _finish_outcome(arguments, content)
                    if gave_up:
                        turns.append({"from": "assistant", "value": span + " " + NEXT_GIVE_UP})
                    else:
                        turns.append({"from": "assistant", "value": span + " " + NEXT_CONCLUSION})
                        turns.append({"from": "conclusion", "value": answer})
                else:
                    if not isinstance(arguments, str):
                        arguments = json.dumps(arguments)
                    turns.append({"from": "assistant", "value": span + " " + NEXT_CALLER})
                    turns.append({"from": "caller", "value": f"Action: {name}\nAction Input: {arguments}"})
                span = ""  # a thought belongs to the first call of a message
        elif role == "user":
            turns.append({"from": "user", "value": message.get("content")})
        elif role in ("function", "tool"):
            content = message.get("content")
            value = _observation(content) if unwrap_observations else content
            turns.append(
                {"from": "observation", "value": value if isinstance(value, str) else json.dumps(value)}
            )
    return turns


def conversations_from_stage1(records: list[dict]) -> list[dict]:
    """Stage-1 records `{tools, instruction, chains}` → `{tools, instruction, conversations}`."""
    return [
        {
            "tools": r["tools"],
            "instruction": r["instruction"],
            "conversations": conversation_from_chain(r["instruction"], r["chains"]),
        }
        for r in records
    ]


def conversation_from_worker_messages(
    messages: list[dict], tools: list[dict], *, failed: bool = False
) -> dict:
    """One of our worker trajectories (OpenAI messages: system?, user, then assistant/tool turns, with the
    OpenAI tool specs it was given) → a stage-2 record."""
    start = 0
    while start < len(messages) and messages[start].get("role") == "system":
        start += 1
    if start >= len(messages) or messages[start].get("role") != "user":
        raise ValueError("a worker trajectory must start with the user's task (after any system messages)")
    instruction = messages[start].get("content") or ""
    specs = [t.get("function", t) for t in tools]
    return {
        "tools": [tool_doc_from_openai(s) for s in specs if s.get("name") != FINISH],
        "instruction": instruction,
        "conversations": conversation_from_chain(
            instruction,
            messages,
            skip=start + 1,
            unwrap_observations=False,
            conclude_without_call=True,
            failed=failed,
        ),
    }
