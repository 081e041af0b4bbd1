"""The evaluation report of scored run records: accuracy overall and per level, pass@k, status counts,
tokens (by role) and cost per task, latency percentiles.

pass@k uses the unbiased estimator 1 − C(n−c, k) / C(n, k) per question (n samples, c correct),
averaged over questions; accuracy is the mean correctness of all samples (= pass@1). Samples are never
chosen by looking at the gold answer.
"""

import statistics
from collections import Counter, defaultdict
from math import comb


def pass_at_k(n: int, c: int, k: int) -> float:
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per question, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def _tokens(record: dict) -> tuple[int, int]:
    tokens = record.get("tokens") or {}
    return int(tokens.get("prompt", 0)), int(tokens.get("completion", 0))


def build_report(
    records: list[dict], *, price_prompt_per_m: float = 0.0, price_completion_per_m: float = 0.0
) -> dict:
    """records: scored attempts (one per id and sample)."""
    by_question: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_question[str(r["id"])].append(r)
    levels: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        levels[str(r.get("level") if r.get("level") is not None else "all")].append(
            bool(r["score"]["correct"])
        )
    samples = min((len(v) for v in by_question.values()), default=0)
    pass_k = {}
    for k in range(1, samples + 1):
        pass_k[f"pass@{k}"] = statistics.fmean(
            pass_at_k(len(v), sum(bool(r["score"]["correct"]) for r in v), k) for v in by_question.values()
        )
    prompt = [_tokens(r)[0] for r in records]
    completion = [_tokens(r)[1] for r in records]
    by_role: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        for role, usage in (r.get("usage") or {}).items():
            by_role[role].update({k: int(v) for k, v in usage.items()})
    n = len(records) or 1
    cost = [(p * price_prompt_per_m + c * price_completion_per_m) / 1e6 for p, c in zip(prompt, completion)]
    latency = [float(r.get("latency_s", 0.0)) for r in records]
    return {
        "questions": len(by_question),
        "attempts": len(records),
        "samples_per_question": samples,
        "accuracy": statistics.fmean(bool(r["score"]["correct"]) for r in records) if records else 0.0,
        "mean_score": statistics.fmean(float(r["score"]["value"]) for r in records) if records else 0.0,
        "accuracy_by_level": {lvl: sum(v) / len(v) for lvl, v in sorted(levels.items())},
        "count_by_level": {lvl: len(v) for lvl, v in sorted(levels.items())},
        **pass_k,
        "status": dict(Counter(r.get("status", "") for r in records)),
        "tokens_per_task": {
            "prompt": sum(prompt) / n,
            "completion": sum(completion) / n,
            "total": (sum(prompt) + sum(completion)) / n,
        },
        "tokens_by_role_per_task": {
            role: {k: v / n for k, v in c.items()} for role, c in sorted(by_role.items())
        },
        "cost_per_task": sum(cost) / n,
        "cost_total": sum(cost),
        "latency_s": {
            "p50": _percentile(latency, 0.5),
            "p90": _percentile(latency, 0.9),
            "max": max(latency, default=0.0),
        },
    }


def format_report(report: dict) -> str:
    lines = [
        f"questions {report['questions']}  attempts {report['attempts']}  "
        f"samples/question {report['samples_per_question']}",
        f"accuracy {report['accuracy']:.4f}  mean score {report['mean_score']:.4f}",
    ]
    for level, acc in report["accuracy_by_level"].items():
        lines.append(f"  level {level}: {acc:.4f} ({report['count_by_level'][level]} attempts)")
    lines += [f"{k} {v:.4f}" for k, v in report.items() if k.startswith("pass@")]
    t = report["tokens_per_task"]
    lines.append(
        f"tokens/task prompt {t['prompt']:.0f} completion {t['completion']:.0f} total {t['total']:.0f}"
    )
    lines.append(f"cost/task {report['cost_per_task']:.6f}  total {report['cost_total']:.4f}")
    lines.append(f"latency p50 {report['latency_s']['p50']:.2f}s p90 {report['latency_s']['p90']:.2f}s")
    lines.append(f"status {report['status']}")
    return "\n".join(lines)
