"""OWL planner training data from scored Workforce trajectories: SFT examples and DPO pairs."""
