"""The before / after figures of one dataset run, from its scored attempt records.

- accuracy: correct attempts / attempts (the scorer's verdict); mean_score: mean score value;
  pass_at_n: questions with at least one correct attempt / questions;
- plan_valid: planner plan outputs (plan and replan) that parsed on the first try / plan outputs;
  plan_fallback: plans replaced by the one-subtask fallback because no try parsed;
- replans_per_task, tokens_per_task (all roles), planner_tokens_per_task, latency_s (mean);
- planner_models: how many planner model calls each model name answered (the name the model server
  reports in each response, kept in the planner's events) — which model really served the run.
"""

from collections import Counter

from ..runner.trajectory import planner_call


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def planner_models(record: dict) -> Counter:
    models: Counter = Counter()
    for event in (record.get("trajectory") or {}).get("events", []):
        if planner_call(event.get("type", ""), event.get("data") or {}):
            for attempt in (event.get("data") or {}).get("attempts") or []:
                if attempt.get("model"):
                    models[attempt["model"]] += 1
    return models


def _plans(record: dict) -> list[dict]:
    return [e.get("data") or {} for e in (record.get("trajectory") or {}).get("events", [])
            if planner_call(e.get("type", ""), e.get("data") or {}) in ("plan", "replan")]


def run_metrics(records: list[dict]) -> dict:
    finished = [r for r in records if r.get("status") in ("succeeded", "failed", "cancelled")]
    scored = [r for r in finished if r.get("score")]
    questions: dict[str, bool] = {}
    for r in scored:
        questions[str(r["id"])] = questions.get(str(r["id"]), False) or bool(r["score"]["correct"])
    plans = [p for r in finished for p in _plans(r)]
    first_try = [bool(p.get("attempts")) and "error" not in p["attempts"][0] for p in plans]
    fallback = [any(str(x).startswith("fallback") for x in p.get("repairs") or []) for p in plans]
    models: Counter = Counter()
    for r in finished:
        models += planner_models(r)
    return {
        "attempts": len(records),
        "finished": len(finished),
        "succeeded": sum(r["status"] == "succeeded" for r in finished),
        "errors": len(records) - len(finished),
        "accuracy": _mean(float(r["score"]["correct"]) for r in scored),
        "mean_score": _mean(float(r["score"]["value"]) for r in scored),
        "pass_at_n": _mean(float(v) for v in questions.values()),
        "questions": len(questions),
        "plans": len(plans),
        "plan_valid": _mean(float(v) for v in first_try),
        "plan_fallback": _mean(float(v) for v in fallback),
        "replans_per_task": _mean(float(r.get("replans") or 0) for r in finished),
        "tokens_per_task": _mean(float((r.get("tokens") or {}).get("total", 0)) for r in finished),
        "planner_tokens_per_task": _mean(
            float(sum(int((r.get("usage") or {}).get("planner", {}).get(k, 0) or 0)
                      for k in ("prompt_tokens", "completion_tokens"))) for r in finished),
        "latency_s": _mean(float(r.get("latency_s") or 0) for r in finished),
        "planner_models": dict(models),
    }


def compare(before: dict, after: dict) -> dict:
    """after − before for every number both have."""
    return {k: round(after[k] - before[k], 4) for k in before
            if isinstance(before.get(k), (int, float)) and isinstance(after.get(k), (int, float))}
