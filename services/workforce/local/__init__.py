"""Local mode: every service as its own process on one machine (`make run`)."""
