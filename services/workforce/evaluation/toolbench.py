"""ToolBench static step-level metrics, defined as the α-UMi evaluator defines them (see REFERENCE.md).

Input: a list of step samples `{tools, reference, predictions}`; each text is parsed into a plan
(give up | finish | call), an action, its input and an answer. Metrics:
  plan_em     exact plan match over all steps
  action_em   action-name match over the steps whose reference is a call (no prediction = "none")
  hallu_rate  predicted action neither "none" nor a tool name, over all steps
  easy/hard/f1  argument F1 over reference calls (easy: reference `{}`; hard: non-empty)
  rouge       the `rouge` package's ROUGE-L F over the finish steps
Where the original script would crash (an empty list, a call without `</s>`, an empty answer), we
score the case as 0 instead; on every input it accepts the numbers are the same.
"""

import json
from dataclasses import dataclass

from rouge import Rouge

EPS = 1e-30


@dataclass
class Parsed:
    plan: str  # "give up" | "finish" | "call"
    action: str | None = None
    action_input: str | None = None
    answer: str | None = None


def parse_output(text: str) -> Parsed:
    if "Next: give up" in text:
        return Parsed("give up")
    if "Next: conclusion" in text:
        answer = text[text.rindex("conclusion: ") + len("conclusion: ") :] if "conclusion: " in text else text
        return Parsed("finish", answer=answer.replace("</s>", ""))
    # a call: the caller's part is the text between the first and the second `</s>`
    parts = text.split("</s>")
    call = parts[1] if len(parts) > 1 else ""
    action_input = (
        call[call.rindex("Action Input:") + len("Action Input:") :].strip()
        if "Action Input:" in call
        else "{}"
    )
    if "Action:" in call:
        action = call[call.rindex("Action:") + len("Action:") :].strip()
        if "Action Input:" in action:
            action = action[: action.index("Action Input:")].strip()
    else:
        action = "none"
    return Parsed("call", action=action, action_input=action_input)


def _mean(values: list[float]) -> float:
    return (sum(values) / len(values) + EPS) if values else 0.0


def argument_f1(pred_actions, ref_actions, pred_inputs, ref_inputs) -> tuple[float, float, float]:
    easy, hard, every = [], [], []
    for pred_action, ref_action, pred_text, ref_text in zip(
        pred_actions, ref_actions, pred_inputs, ref_inputs, strict=True
    ):
        if pred_action != ref_action:
            easy.append(0)
            hard.append(0)
            every.append(0)
            continue
        try:
            ref = json.loads(ref_text)
        except ValueError:
            continue  # an unparseable reference is skipped
        try:
            pred = json.loads(pred_text)
            if ref == {}:
                score = 1 if pred == {} else 0
                easy.append(score)
                every.append(score)
                continue
            full = half = 0
            for key, value in ref.items():
                if key in pred.keys():
                    if pred[key] == value:
                        full += 1
                    else:
                        half += 1
            recall = (0.5 * half + full) / (len(ref) + EPS)
            precision = (0.5 * half + full) / (len(pred) + EPS)
            score = (2 * recall * precision) / (recall + precision)
            hard.append(score)
            every.append(score)
        except (ValueError, AttributeError, TypeError, ZeroDivisionError):
            # unparseable or non-object prediction, or no overlap at all: 0 in the reference's bucket
            (easy if ref == {} else hard).append(0)
            every.append(0)
    return _mean(easy), _mean(hard), _mean(every)


def rouge_l(hyps: list[str], refs: list[str]) -> float:
    """Corpus-average ROUGE-L F, accumulated pair by pair in order (as the package's avg=True does)."""
    if not refs:
        return 0
    scorer = Rouge(metrics=["rouge-l"])
    total = 0.0
    for hyp, ref in zip(hyps, refs, strict=True):
        try:
            total += scorer.get_scores([hyp], [ref], avg=True)["rouge-l"]["f"]
        except ValueError:  # an empty hypothesis or reference (the package refuses it): scores 0
            pass
    return total / len(refs)


def evaluate(samples: list[dict]) -> dict:
    """Metrics over step samples `{tools, reference, predictions}`."""
    if not isinstance(samples, list):
        raise ValueError("expected a JSON list of {tools, reference, predictions}")
    plan_ref, plan_pred = [], []
    answer_ref, answer_pred = [], []
    action_ref, action_pred, input_ref, input_pred = [], [], [], []
    hallucinated = 0
    for i, sample in enumerate(samples):
        try:
            names = {t["Name"] for t in sample["tools"]}
            ref, pred = parse_output(sample["reference"]), parse_output(sample["predictions"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"sample {i}: needs tools[{{Name}}], reference and predictions ({exc})") from exc
        if pred.action is not None and pred.action != "none" and pred.action not in names:
            hallucinated += 1
        plan_ref.append(ref.plan)
        plan_pred.append(pred.plan)
        if ref.plan == "finish":
            answer_ref.append(ref.answer)
            answer_pred.append("none" if pred.answer is None else pred.answer)
        elif ref.plan == "call":
            action_ref.append(ref.action)
            input_ref.append(ref.action_input)
            action_pred.append("none" if pred.action is None else pred.action)
            input_pred.append("{}" if pred.action_input is None else pred.action_input)
    easy, hard, f1 = argument_f1(action_pred, action_ref, input_pred, input_ref)
    return {
        "plan_em": _match(plan_ref, plan_pred),
        "action_em": _match(action_ref, action_pred),
        "hallu_rate": hallucinated / len(samples) if samples else 0.0,
        "easy_f1": easy,
        "hard_f1": hard,
        "f1": f1,
        "rouge": rouge_l(answer_pred, answer_ref),
    }


def _match(refs: list, preds: list) -> float:
    return sum(1 for r, p in zip(refs, preds, strict=True) if r == p) / len(refs) if refs else 0
