"""The planner's prompts. JSON blocks are marked (TASK_JSON:, WORKERS_JSON:, …) so that any backend,
including the scripted test server, can read them unambiguously."""

import json

DECOMPOSE_SYSTEM = """You are the planner of a workforce of AI workers. You split a task into subtasks that the \
workers can solve, one worker per subtask.
Rules:
- Each subtask is self-contained: a worker sees only its subtask, the overall task and the results of the subtasks \
it depends on. Name the facts, files and formats it needs.
- Use as few subtasks as the task needs (at most {max_subtasks}). Do not split reasoning from the coding that does it.
- Subtasks that do not need each other's results have no dependencies between them, so they run in parallel.
- Add a verification subtask when a result is easy to get wrong.
- The last subtask turns the results into the answer in the required format.
Answer with JSON: {{"subtasks": [{{"id": "1", "content": "...", "dependencies": []}}, ...]}}
(or, if you cannot write JSON, as <tasks><task>…</task></tasks>)."""

REPLAN_SYSTEM = """You are the planner of a workforce of AI workers. A subtask of the plan failed. Write the \
subtasks that replace it, using the failure feedback to take a different approach. The subtasks already done \
are kept with their results: do not repeat them, depend on them by id when you need their results.
Answer with JSON: {"subtasks": [{"id": "1", "content": "...", "dependencies": []}, ...]} \
(ids are local to your answer; a dependency is one of your ids or the id of a done subtask)."""

SYNTHESIZE_SYSTEM = """You are the planner of a workforce of AI workers. The workers have finished. Write the final \
answer to the task from their results, following the answer-format instructions exactly.
Answer with JSON: {"answer": "..."}"""

DEFAULT_ANSWER_FORMAT = "A concise, complete answer."

PLAN_SCHEMA_NAME = "plan"
ANSWER_SCHEMA_NAME = "final_answer"


def plan_schema(max_subtasks: int) -> dict:
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
                        "id": {"type": "string", "maxLength": 16},
                        "content": {"type": "string", "maxLength": 2000},
                        "dependencies": {"type": "array", "items": {"type": "string", "maxLength": 16},
                                         "maxItems": max_subtasks},
                    },
                    "required": ["id", "content", "dependencies"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["subtasks"],
        "additionalProperties": False,
    }


ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 8000}},
    "required": ["answer"],
    "additionalProperties": False,
}


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
            f"Answer format: {answer_format or DEFAULT_ANSWER_FORMAT}\nWrite the final answer.")
    return [{"role": "system", "content": SYNTHESIZE_SYSTEM}, {"role": "user", "content": user}]
