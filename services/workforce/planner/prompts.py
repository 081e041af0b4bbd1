"""The planner's prompts. JSON blocks are marked (TASK_JSON:, WORKERS_JSON:, …) so that any backend,
including the scripted test server, can read them unambiguously."""

import json

DECOMPOSE_SYSTEM = """You are the planner of a workforce of AI workers. You split a task into subtasks that the \
workers can solve, one worker per subtask.
Rules:
- Each subtask is self-contained: a worker sees only its subtask, the overall task and the results of the subtasks \
it depends on. Name the facts, numbers, files and formats it needs.
- Use as few subtasks as the task needs (at most {max_subtasks}); a simple task is one subtask. Do not split \
reasoning from the coding that does it.
- Subtasks that do not need each other's results have no dependencies between them, so they run in parallel.
- Add a verification subtask when a result is easy to get wrong.
- The last subtask turns the results into the answer in the required format.
Answer with JSON. "dependencies" lists the numbers (1, 2, …) of earlier subtasks whose results a subtask needs:
{{"subtasks": [{{"content": "Compute ... with Python.", "dependencies": []}}, \
{{"content": "Check the result of subtask 1 and state the answer.", "dependencies": [1]}}]}}"""

REPLAN_SYSTEM = """You are the planner of a workforce of AI workers. A subtask of the plan failed. Write the \
subtasks that replace it, using the failure feedback to take a different approach. The subtasks already done \
are kept with their results: do not repeat them, depend on them by id when you need their results.
Answer with JSON: {"subtasks": [{"content": "...", "dependencies": []}, ...]} \
(a dependency is the number of one of your earlier subtasks, or the id of a done subtask)."""

SYNTHESIZE_SYSTEM = """You are the planner of a workforce of AI workers. The workers have finished. Write the final \
answer to the task from their results, following the answer-format instructions exactly.
Answer with JSON: {"answer": "..."}"""

DEFAULT_ANSWER_FORMAT = "A concise, complete answer."

PLAN_SCHEMA_NAME = "plan"
ANSWER_SCHEMA_NAME = "final_answer"


def plan_schema(max_subtasks: int, subtask_chars: int = 600, done_ids: list[str] = ()) -> dict:
    """Subtasks numbered by position; a dependency is an earlier subtask's number (or a done subtask's id)."""
    dependency: dict = {"type": "integer", "minimum": 1, "maximum": max_subtasks}
    if done_ids:
        dependency = {"anyOf": [dependency, {"type": "string", "enum": list(done_ids)}]}
    return {
        "type": "object",
        "properties": {
            "subtasks": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_subtasks,
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string", "minLength": 1, "maxLength": subtask_chars},
                        "dependencies": {"type": "array", "items": dependency, "maxItems": max_subtasks},
                    },
                    "required": ["content", "dependencies"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["subtasks"],
        "additionalProperties": False,
    }


# Numbers as bounded strings: a JSON number's digits are unbounded, and a small model will write them forever.
ANSWER_TYPES = {
    "number": {"type": "string", "pattern": "^-?[0-9]{1,15}(\\.[0-9]{1,6})?$", "maxLength": 23},
    "integer": {"type": "string", "pattern": "^-?[0-9]{1,18}$", "maxLength": 19},
    "boolean": {"type": "string", "enum": ["true", "false"]},
}


def answer_schema(max_chars: int = 2000, answer_type: str = "text") -> dict:
    """{"answer": …}: text bounded by max_chars, or a number / integer / boolean when the task asks for one."""
    answer = ANSWER_TYPES.get(answer_type) or {"type": "string", "minLength": 1, "maxLength": max_chars}
    return {
        "type": "object",
        "properties": {"answer": answer},
        "required": ["answer"],
        "additionalProperties": False,
    }


ANSWER_SCHEMA = answer_schema()


def _workers_json(workers: list[dict]) -> str:
    return json.dumps(workers, ensure_ascii=False)


def decompose_messages(question: str, answer_format: str, files: list[str], workers: list[dict],
                       max_subtasks: int) -> list[dict]:
    task = {"question": question, "answer_format": answer_format or DEFAULT_ANSWER_FORMAT, "files": files}
    user = (f"TASK_JSON: {json.dumps(task, ensure_ascii=False)}\n\n"
            f"Available workers:\nWORKERS_JSON: {_workers_json(workers)}\n\nWrite the subtasks.")
    return [{"role": "system", "content": DECOMPOSE_SYSTEM.format(max_subtasks=max_subtasks)},
            {"role": "user", "content": user}]


def replan_messages(question: str, subtasks: list[dict], failed: dict, reason: str, workers: list[dict]) -> list[dict]:
    user = (f"TASK_JSON: {json.dumps({'question': question}, ensure_ascii=False)}\n\n"
            f"The plan so far (status and results):\nPLAN_JSON: {json.dumps(subtasks, ensure_ascii=False)}\n\n"
            f"The failed subtask:\nFAILED_JSON: {json.dumps(failed, ensure_ascii=False)}\n"
            f"Why it failed: {reason}\n\nAvailable workers:\nWORKERS_JSON: {_workers_json(workers)}\n\n"
            "Write the subtasks that replace the failed one.")
    return [{"role": "system", "content": REPLAN_SYSTEM}, {"role": "user", "content": user}]


def synthesize_messages(question: str, answer_format: str, results: list[dict]) -> list[dict]:
    user = (f"TASK_JSON: {json.dumps({'question': question}, ensure_ascii=False)}\n\n"
            f"Results of the subtasks:\nRESULTS_JSON: {json.dumps(results, ensure_ascii=False)}\n\n"
            f"Answer format: {answer_format or DEFAULT_ANSWER_FORMAT}\nSo the final answer is")
    return [{"role": "system", "content": SYNTHESIZE_SYSTEM}, {"role": "user", "content": user}]
