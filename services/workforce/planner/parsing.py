"""Turn the planner model's output into a valid plan: JSON (structured or not) or the paper's
<tasks><task>…</task></tasks> form.

A plan is repaired rather than rejected where the fix is unambiguous: subtasks are numbered by position;
a dependency may name a subtask by its id or its position; unknown, self, duplicate and cycle-closing
dependencies are dropped; empty subtasks are dropped; a subtask written again word for word is merged into the
first (a small model repeats "Compute 17 * 23." three times: three runs, three results to reconcile). Each repair
is reported so that it is visible in the task's events. Only a plan with no usable subtask, or too many, is an
error (fed back to the model).
"""

import re
from dataclasses import dataclass, field

from ..core.llm import extract_json
from ..core.llm.degenerate import cut_loop, loop_error

_TASK = re.compile(r"<task>(.*?)</task>", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
# Words that say nothing of what a task is about (English; a plan in another language than its task is only retried,
# then run as the task itself).
_FILLER = frozenset("""the and for with what which who whom whose when where why how many much that this these those
from into onto about than then them they their there here its it's are was were been being has have had does did
can could should would will shall may might must not all any each every some one two use using used give tell
show find get make write answer result results subtask subtasks task step steps check state final question
please also only just very more most such same other""".split())


class PlanError(ValueError):
    """The model's plan is unusable; the message is fed back to the model on retry."""


@dataclass
class ParsedPlan:
    subtasks: list[dict]                       # [{id, content, dependencies}]
    repairs: list[str] = field(default_factory=list)


def parse_plan(text: str, max_subtasks: int, known_ids: frozenset | set = frozenset(),
               max_chars: int = 0, allow_tags: bool = True, workers: list[dict] = ()) -> ParsedPlan:
    items = _from_json(text)
    if items is None:
        found = [t.strip() for t in _TASK.findall(text or "") if t.strip()] if allow_tags else []
        if not found:
            raise PlanError('no subtasks found: answer with JSON {"subtasks": [{"content": "...", '
                            '"dependencies": []}]}')
        # The paper's form has no dependencies: each subtask follows the previous one.
        items = [{"content": c, "dependencies": [i - 1] if i > 1 else []} for i, c in enumerate(found, 1)]
    return repair_subtasks(items, max_subtasks, known_ids, max_chars, workers)


def parse_subtasks(text: str, max_subtasks: int) -> list[dict]:
    return parse_plan(text, max_subtasks).subtasks


def _from_json(text: str):
    try:
        value = extract_json(text)
    except ValueError:
        return None
    if isinstance(value, dict):
        value = value.get("subtasks", value.get("tasks"))
    if not isinstance(value, list):
        return None
    return value


def repair_subtasks(items: list, max_subtasks: int, known_ids=frozenset(), max_chars: int = 0,
                    workers: list[dict] = ()) -> ParsedPlan:
    """The plan as subtasks with ids and valid dependencies; what was changed is in `repairs`. `workers` (the pools
    shown to the model) lets a subtask that is only a pool's description be dropped: what a worker can do, not a
    step of the task (SmolLM2's replan for reversing 'kubernetes' had "Finds information on the web.")."""
    repairs: list[str] = []
    described = [words for words in (set(_words(w.get("description") or "")) for w in workers) if words]
    descriptions = 0
    if not isinstance(items, list) or not items:
        raise PlanError("the plan has no subtasks")
    kept: list[tuple[str, str, list, int]] = []   # (given id, content, raw dependencies, position written)
    first: dict[str, int] = {}                    # normalised content → its index in kept
    merged: dict[str, int] = {}                   # position / given id of a repeated subtask → index in kept
    for position, item in enumerate(items, 1):
        if isinstance(item, str):
            item = {"content": item}
        if not isinstance(item, dict):
            repairs.append(f"dropped subtask {position}: not an object")
            continue
        content = str(item.get("content") or "").strip()
        if not content:
            repairs.append(f"dropped subtask {position}: no content")
            continue
        if (loop := cut_loop(content)) is not None:   # "Compute 2+2, then 2+2, then 2+2, …" (SmolLM2)
            content = loop[0]
            repairs.append(f"cut subtask {position} where it began repeating {loop[1]!r}")
        if max_chars and len(content) > max_chars:
            content = content[:max_chars].rstrip()
            repairs.append(f"cut subtask {position} to {max_chars} characters")
        deps = item.get("dependencies") or []
        if not isinstance(deps, list):
            deps = [deps]
        key = same_text_key(content)
        if _copied_description(content, described):
            descriptions += 1
            repairs.append(f"dropped subtask {position}: a worker's description ({content[:60]!r}), not a step")
            continue
        if key in first:
            j = first[key]
            kept[j][2].extend(deps)
            merged[str(position)] = j
            if str(item.get("id") or "").strip():
                merged[str(item.get("id")).strip()] = j
            repairs.append(f"dropped subtask {position}: the same as subtask {kept[j][3]}")
            continue
        first[key] = len(kept)
        kept.append((str(item.get("id") or "").strip(), content, list(deps), position))
    if not kept:
        raise PlanError("every subtask is a worker's description, not a step of the task: say what each must do"
                        if descriptions else "the plan has no subtask with content")
    if len(kept) > max_subtasks:
        raise PlanError(f"the plan has {len(kept)} subtasks; at most {max_subtasks} are allowed")

    # Ids: the given ones when they are unique and do not collide with done subtasks, else the position.
    given = [k[0] for k in kept]
    use_given = all(given) and len(set(given)) == len(given) and not (set(given) & set(known_ids))
    ids = given if use_given else [str(i) for i in range(1, len(kept) + 1)]
    by_given = {g: ids[i] for i, g in enumerate(given)} if use_given else {}
    by_position = {str(k[3]): ids[i] for i, k in enumerate(kept)}  # positions as the model wrote them
    by_position |= {ref: ids[j] for ref, j in merged.items() if ref not in by_position}

    out = []
    for index, (_, content, raw_deps, _) in enumerate(kept):
        sid, deps = ids[index], []
        for ref in dict.fromkeys(str(raw).strip() for raw in raw_deps):   # a reference written twice: once
            target = by_given.get(ref) or (ref if ref in known_ids else None) or by_position.get(ref)
            if target is None:
                repairs.append(f"subtask {sid}: dropped unknown dependency {ref!r}")
            elif target == sid:
                repairs.append(f"subtask {sid}: dropped dependency on itself")
            elif target not in deps:
                deps.append(target)
        out.append({"id": sid, "content": content, "dependencies": deps})
    if not use_given and _cyclic(out):
        _drop_later_dependencies(out, repairs)
    _break_cycles(out, repairs)
    return ParsedPlan(out, list(dict.fromkeys(repairs)))   # merged duplicates repeat their repairs: each once


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _copied_description(content: str, described: list[set[str]]) -> bool:
    """Whether a subtask is a pool's description written back, near enough word for word (the model's copy of
    worker-web's said "WayBackMachine" and "pages with text"): nearly every word of it is one of the
    description's, and it has enough words to tell (4+)."""
    words = _words(content)
    return len(words) >= 4 and any(sum(w in d for w in words) >= 0.85 * len(words) for d in described)


def _cyclic(subtasks: list[dict]) -> bool:
    try:
        check_acyclic({s["id"]: s["dependencies"] for s in subtasks})
    except PlanError:
        return True
    return False


def _drop_later_dependencies(subtasks: list[dict], repairs: list[str]) -> None:
    """A plan numbered by position names earlier subtasks as dependencies; when its dependencies form a cycle, the
    ones on later subtasks go, so the order the model wrote is the order run (SmolLM2 lists every number for every
    subtask; breaking those cycles depth-first ran its last subtask first)."""
    position = {s["id"]: i for i, s in enumerate(subtasks)}
    for i, subtask in enumerate(subtasks):
        for dep in [d for d in subtask["dependencies"] if position.get(d, -1) > i]:
            subtask["dependencies"].remove(dep)
            repairs.append(f"subtask {subtask['id']}: dropped dependency on {dep}, a later subtask, which closed a cycle")


def _break_cycles(subtasks: list[dict], repairs: list[str]) -> None:
    """Drop each dependency that closes a cycle (depth-first, in plan order)."""
    graph = {s["id"]: s for s in subtasks}
    state: dict[str, int] = {}

    def visit(node: str):
        state[node] = 1
        subtask = graph[node]
        for dep in list(subtask["dependencies"]):
            if dep not in graph:
                continue  # a subtask already done
            if state.get(dep) == 1:
                subtask["dependencies"].remove(dep)
                repairs.append(f"subtask {node}: dropped dependency on {dep}, which closed a cycle")
            elif dep not in state:
                visit(dep)
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)


def check_acyclic(graph: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]):
        if state.get(node) == 1:
            raise PlanError("dependencies form a cycle: " + " → ".join(path + [node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in graph.get(node, []):
            visit(dep, path + [node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def off_topic(question: str, subtasks: list[dict]) -> str | None:
    """Why a plan is about something else than its task (no subtask shares a word that says what the task is about:
    a name, a number, a noun or verb of the question), or None. SmolLM2 answered "Reverse the word 'workforce'." with
    "Compute the number of pages that have been updated since the last update."."""
    asked = _topic_words(question)
    if not asked or any(asked & _topic_words(s["content"]) for s in subtasks):
        return None
    return ("no subtask mentions anything of the task (" + ", ".join(sorted(asked)[:8]) + "): plan the task itself")


def _topic_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if (len(w) >= 3 or w.isdigit()) and w not in _FILLER}


def same_text_key(text: str) -> str:
    """What two texts written "word for word the same" share: case, spacing and end punctuation aside."""
    return " ".join(text.lower().split()).rstrip(".!?:")


def parse_answer(text: str, subtasks: list[dict] = ()) -> str:
    """The final answer from {"answer": ...}; PlanError when the output is not that object, or when it only repeats
    a subtask's description (`subtasks`: id, content, result) — what was to be done, not what came of it: a weak
    model copies the text it was shown."""
    try:
        value = extract_json(text)
    except ValueError:
        raise PlanError('the answer is not JSON: reply with {"answer": "..."}') from None
    if not isinstance(value, dict) or "answer" not in value:
        raise PlanError('the reply must be a JSON object {"answer": "..."}')
    answer = value["answer"]
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = repr(answer) if isinstance(answer, float) and not answer.is_integer() else str(int(answer))
    answer = str(answer).strip()
    if not answer:
        raise PlanError("the answer is empty")
    if (loop := loop_error(answer)) is not None:
        raise PlanError(loop)
    if (restated := _restated_subtask(answer, subtasks)) is not None:
        raise PlanError(f"the answer repeats the description of subtask {restated}, not what came of it: "
                        "answer from the results")
    return answer


def _restated_subtask(answer: str, subtasks) -> str | None:
    said = same_text_key(answer)
    if any(said in same_text_key(s.get("result") or "") for s in subtasks):
        return None   # a result says it too (a subtask's result may well be its own description's words)
    return next((s["id"] for s in subtasks if same_text_key(s.get("content") or "") == said), None)
