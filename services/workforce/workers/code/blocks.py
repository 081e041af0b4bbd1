"""worker-code's agent for models without native tool calls (WF_LLM_TOOL_MODE=json, e.g. the local default
model): the model writes a Python program in a code block, the sandbox runs it, and what a clean run prints is
the subtask's result (CodeAct, as smolagents' CodeAgent does). A small model writes a short program far more
reliably than code escaped inside a JSON string, and it cannot garble a result it never has to copy: with the
JSON tool loop SmolLM2-135M computed 17 * 23 = 391 in the sandbox and then looped on '0' writing the answer.

A program that leaves out a value the subtask quotes, or never reads the attached file the subtask is about, is
sent back once, unrun. A failed run (traceback, non-zero
exit, a limit), a run that prints nothing and one that prints an error it caught are fed back and the program is
written again, sampled, until the subtask's tool budget is spent; the result is then failed, with the last output.
"""

import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from ...core.llm.client import LLMError
from ...core.tool_budget import ToolBudgetExceeded
from ...v1 import channel_pb2, common_pb2
from ..agent import RETRY_TEMPERATURE, STEP_RETRIES, AgentOutcome, ToolCallingAgent, _temperature, recent_steps
from ..prompts import subtask_prompt
from ..tools import ToolContext, file_in_question
from .tools import not_a_value, reported_error, run_output, run_summary

SYSTEM = """You are {worker_type}, a worker in a team of AI agents. You solve exactly one subtask by writing a \
short Python program that computes the result and prints it. The task's attached files are in the current \
directory. Reply with only a Python code block."""

# Worked examples, shown as earlier turns: one idiom each (arithmetic, counting, strings, units, a file).
DEMOS = [
    ("What is 3 to the power of 5?", "print(3 ** 5)"),
    ("How many times does the letter e appear in 'excellence'?", "print('excellence'.count('e'))"),
    ("Reverse the word 'python'.", "print('python'[::-1])"),
    ("How many seconds are in 2 hours?", "print(2 * 60 * 60)"),
    ("What is the sum of the even numbers from 2 to 20?", "print(sum(range(2, 21, 2)))"),
    ("Write 'hello world' in title case.", "print('hello world'.title())"),
    ("How many items are in the list 'red, green, blue'?", "print(len('red, green, blue'.split(', ')))"),
    ("What is the total of the price column in the attached items.csv?",
     "import pandas as pd\nprint(pd.read_csv('items.csv')['price'].sum())"),
]
# …and one with the context a subtask of a larger plan gets, in subtask_prompt's layout.
CONTEXT_DEMO = (channel_pb2.WorkItem(
    overall_task="What is 6 * 7, plus 8?", subtask="Add 8 to the product.",
    dependencies=[channel_pb2.DependencyResult(subtask_id="1", content="Compute 6 * 7.", result="42")]),
    "print(42 + 8)")
# A subtask with attached files sees the first lines of each, so it gets a last example laid out the same way.
FILE_DEMO = (channel_pb2.WorkItem(
    overall_task="What is the total of the price column in the attached items.csv?",
    subtask="Compute the total of the price column in items.csv.",
    files=[common_pb2.FileRef(name="items.csv", media_type="text/csv", size=35)]),
    "import pandas as pd\nprint(pd.read_csv('items.csv')['price'].sum())")
# The first lines of the demo's file, as the subtask's own text files are shown (the model sees the columns).
DEMO_PREVIEWS = {"items.csv": "item,price\npen,1.5\nbook,12\nlamp,30"}
PREVIEW_LINES, PREVIEW_LINE_CHARS = 5, 120
TEXT_TYPES = ("text/", "application/json", "application/csv")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".md")

FENCE = "```"
_BLOCK = re.compile(r"```[ \t]*(?:python3|python|py)?[ \t]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.I | re.M)
PROGRAM_TOKENS = 400   # a program for one subtask; the stop sequence usually ends it far sooner
# Earlier programs and their feedback sent back with the next request (the trajectory keeps them all): the worked
# examples and this many fit a small model's context (4096 tokens a slot on the local model server; six turns did
# not: "request (4382 tokens) exceeds the available context size").
HISTORY_TURNS = 2
# Generation stops at the closing fence (a fence that opens is followed by "python", not by a newline).
STOP = ["\n" + FENCE + "\n"]


# A value the subtask quotes ('workforce', "red, green"): not after a letter (an apostrophe: "What's") and not
# followed by one.
_QUOTED = re.compile(r"""(?<![A-Za-z0-9])(?:'([^'\n]{1,80})'|"([^"\n]{1,80})"|"""
                     r"‘([^’\n]{1,80})’|“([^”\n]{1,80})”)(?![A-Za-z0-9])")


def unused_quote(code: str, subtask: str) -> str:
    """A value the subtask quotes that the program never writes ('' when it uses them all): a small model copies
    a program it remembers ("Hello, World!" reversed for reversing 'workforce')."""
    for match in _QUOTED.finditer(subtask):
        value = next(g for g in match.groups() if g is not None).strip()
        quoted = f"'{value}'" in code or f'"{value}"' in code
        if value and not quoted and (len(value) < 4 or value.lower() not in code.lower()):   # 'r' is in any program
            return value
    return ""


# A program that finds its files itself reads one whose name it never writes.
_LISTS_FILES = re.compile(r"\b(listdir|scandir|glob|iterdir|walk)\b")


def unread_file(code: str, subtask: str, names: list[str]) -> str:
    """The attached file a subtask is about that the program never opens ('' when it names one, lists the
    directory, or the subtask is not about a file): a small model invents the data instead ("0" as the total of a
    CSV column it never read)."""
    if not names or _LISTS_FILES.search(code) or any(name in code for name in names):
        return ""
    return file_in_question(subtask, names)


def extract_code(text: str) -> str:
    """The program in the reply: its first code block (closed or cut off by the stop sequence), or the whole
    reply when it has no fence at all. Empty when there is none."""
    text = text or ""
    match = _BLOCK.search(text)
    if match:
        return match.group(1).strip()
    return "" if FENCE in text else text.strip()


def block(code: str) -> str:
    return f"{FENCE}python\n{code}\n{FENCE}"


class CodeBlockAgent(ToolCallingAgent):
    """Writes programs instead of tool-call JSON; run_python (with its budget, approval and events) runs them.
    `workdir(ctx)` is CodeTools.workdir: the subtask's sandbox directory with the task's files copied in."""

    def __init__(self, llm, spec, settings, workdir: Callable[[ToolContext], Awaitable[Path]]):
        super().__init__(llm, spec, settings)
        self.workdir = workdir

    def initial_messages(self, item: channel_pb2.WorkItem, tools: list | None = None,
                         previews: dict[str, str] | None = None) -> list[dict]:
        messages = [{"role": "system", "content": SYSTEM.format(worker_type=self.spec.worker_type)}]
        for subtask, code in DEMOS:
            messages += [{"role": "user", "content": f"Your subtask:\n{subtask}"},
                         {"role": "assistant", "content": block(code)}]
        # The example most like this subtask goes last, nearest to it: a small model copies the closest one. (The
        # 135M default model is sensitive to every word here: the local benchmark moves with these examples.)
        for demo, code in [CONTEXT_DEMO] + ([FILE_DEMO] if item.files else []):
            messages += [{"role": "user", "content": subtask_prompt(demo, DEMO_PREVIEWS)},
                         {"role": "assistant", "content": block(code)}]
        messages.append({"role": "user", "content": subtask_prompt(item, previews)})
        return messages

    async def previews(self, item: channel_pb2.WorkItem, ctx: ToolContext) -> dict[str, str]:
        """The first lines of each attached text file, read from the copy in the subtask's sandbox directory (made
        here, once, as the first run would): a small model writes code for columns it can see."""
        wanted = [ref.name for ref in item.files
                  if ref.media_type.startswith(TEXT_TYPES) or ref.name.lower().endswith(TEXT_SUFFIXES)]
        if not wanted:
            return {}
        root = await self.workdir(ctx)
        shown = {}
        for name in wanted:
            path = root / Path(name).name
            try:
                with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:   # never a link
                    head = handle.read(PREVIEW_LINES * PREVIEW_LINE_CHARS * 2).decode("utf-8", "replace")
            except OSError:   # not copied (too large, a hidden name): the program can still look for it
                continue
            shown[name] = "\n".join(line[:PREVIEW_LINE_CHARS] for line in head.splitlines()[:PREVIEW_LINES])
        return shown

    async def run(self, item: channel_pb2.WorkItem, ctx: ToolContext) -> AgentOutcome:
        messages = self.initial_messages(item, previews=await self.previews(item, ctx))
        shown = len(messages)   # the examples and the subtask, always sent
        outcome = AgentOutcome("", False, messages=messages)
        ran: dict[str, str] = {}    # program → what it printed (a program written again is not run again)
        temperature = _temperature(ctx)
        last = "no program was written"
        bad_replies = 0
        told_quote = told_file = False   # each said once; a program that still leaves it out is run
        attached = [Path(ref.name).name for ref in item.files if Path(ref.name).name]
        while True:
            try:
                sent = recent_steps(messages, HISTORY_TURNS, shown)
                result = await self.llm.chat(sent, role=self.role, task_id=item.task_id, stop=STOP,
                                             temperature=temperature, max_tokens=PROGRAM_TOKENS)
            except LLMError as exc:
                return self._end(outcome, f"model error: {exc}", True)
            outcome.usage.add(self.role, result)
            # Whatever went wrong, the next program is sampled: greedy decoding would write the same one again.
            temperature = max(temperature or 0.0, RETRY_TEMPERATURE)
            code = extract_code(result.content)
            messages.append({"role": "assistant", "content": block(code) if code else result.content})
            if not code:
                bad_replies += 1
                if bad_replies > STEP_RETRIES:
                    return self._end(outcome, f"model error: no program after {bad_replies} tries", True)
                feedback = "That reply has no program. Reply with only a Python code block."
            elif not told_quote and (value := unused_quote(code, item.subtask)):
                told_quote = True
                feedback = (f"That program does not use {value!r} from the subtask. Write the program for the "
                            "subtask's own values in a Python code block.")
            elif not told_file and (name := unread_file(code, item.subtask, attached)):
                told_file = True
                feedback = (f"That program does not read {name}, the attached file the subtask is about; it is in "
                            "the current directory. Write a program that reads it, in a Python code block.")
            elif code in ran:
                bad_replies += 1
                if bad_replies > STEP_RETRIES:
                    return self._end(outcome, f"{run_summary(ran[code], self.settings.tool_result_chars)} "
                                     "(stopped: the same program was written again)", True)
                feedback = (f"You ran that same program before; its output:\n{ran[code][-600:]}\n\n"
                            "Write a different program in a Python code block.")
            else:
                try:
                    text, ok, _ = await self._call_tool(ctx, _Call("run_python", code))
                except ToolBudgetExceeded as exc:
                    return self._end(outcome, self._capped_summary(ctx, str(exc)), True)
                outcome.tool_calls += 1
                succeeded, printed = run_output(text) if ok else (False, "")
                error = reported_error(printed) if succeeded else ""
                junk = not_a_value(printed) if succeeded and not error else ""
                if succeeded and printed and not error and not junk:
                    return self._end(outcome, printed[:self.settings.result_chars], False)
                last = ran[code] = text
                if error:
                    feedback = (f"The program printed an error instead of the result:\n{error[:600]}\n\n"
                                "Write a corrected program in a Python code block that prints the result.")
                elif junk:
                    feedback = (f"The program printed {junk[:200]}, which is not a value: call the function, or "
                                "fill in the placeholder. Write a corrected program in a Python code block.")
                elif succeeded:
                    feedback = "The program ran but printed nothing. Print the result."
                else:
                    feedback = (f"The program failed:\n{text[-self.settings.tool_result_chars:]}\n\n"
                                "Write a corrected program in a Python code block.")
            messages.append({"role": "user", "content": feedback})
            try:
                ctx.spend_tool_call("run_python")   # budget left for another program?
            except ToolBudgetExceeded as exc:
                return self._end(outcome, f"no program printed a result ({exc}); the last: "
                                 f"{run_summary(last, self.settings.tool_result_chars)}", True)


class _Call:
    """A run_python call in the shape ToolCallingAgent._call_tool reads."""

    def __init__(self, name: str, code: str):
        self.name, self.code = name, code
        self.arguments = json.dumps({"code": code}, ensure_ascii=False)

    def parsed_arguments(self) -> dict:
        return {"code": self.code}
