"""The coordinator: assigns subtasks, keeps the DAG, dispatches, counts failures, asks for replans.

Stateless: every decision reads and compare-and-sets the plan in KV, so any replica can handle any message.
"""
