"""AutoAct self-differentiation data: self-instruct → automatic tool selection → trajectory synthesis with
the plan / tool / reflect loop → filtering (reward = 1) → one training set per role.

The trajectory loop here calls the LLM directly with our own role prompts through the project's
OpenAI-compatible client (the tool-learning worker's AutoAct agent was not available when this was
written); the environment's tools are real HTTP APIs (MediaWiki for Retrieve, Bing Web Search for
BingSearch) whose base URLs are configurable.
"""
