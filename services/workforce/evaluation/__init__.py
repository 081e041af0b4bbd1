"""Evaluation: ToolBench static step-level metrics (α-UMi Table 1), HotpotQA EM / F1 (AutoAct reward)."""
