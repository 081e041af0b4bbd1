"""Training-data builders: OWL planner SFT/DPO, α-UMi GLPFT, AutoAct self-differentiation."""
