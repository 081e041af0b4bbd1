"""vLLM's OpenAI-compatible server on CPU serving the tiny base model and two LoRA adapters."""

import openai
import pytest

from .server import BASE_NAME

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first test waits for the server start


@pytest.fixture(scope="module")
def client(vllm):
    with openai.OpenAI(base_url=vllm.base_url, api_key="EMPTY", timeout=120, max_retries=0) as client:
        yield client


def first_token_logprobs(client, model: str) -> dict[str, float]:
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is the weather in Berlin?"}],
        max_tokens=8, temperature=0, logprobs=True, top_logprobs=5,
    )
    choice = response.choices[0]
    assert response.model == model
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert choice.finish_reason in ("stop", "length")
    assert len(choice.logprobs.content) == response.usage.completion_tokens
    return {top.token: round(top.logprob, 4) for top in choice.logprobs.content[0].top_logprobs}


def test_models_lists_the_base_model_and_the_adapters(client, vllm):
    models = {m.id: m for m in client.models.list().data}
    assert set(models) == {BASE_NAME, "planner", "caller", "summarizer"}
    for adapter in ("planner", "caller", "summarizer"):
        assert models[adapter].model_extra["parent"] == BASE_NAME
        assert models[adapter].model_extra["root"] == str(vllm.models[adapter])


def test_chat_completion_on_the_base_model_and_each_adapter(client, vllm):
    before = {name: vllm.requests_for(name) for name in (BASE_NAME, "planner", "caller")}
    distributions = {name: first_token_logprobs(client, name) for name in (BASE_NAME, "planner", "caller")}
    # each request ran on the model it named: the server logged it with that adapter (or none)
    for name, count in before.items():
        assert vllm.requests_for(name) == count + 1, name
    # and each adapter really changes the next-token distribution
    assert distributions[BASE_NAME] != distributions["planner"]
    assert distributions[BASE_NAME] != distributions["caller"]
    assert distributions["planner"] != distributions["caller"]


def test_greedy_decoding_is_deterministic_per_adapter(client):
    assert first_token_logprobs(client, "planner") == first_token_logprobs(client, "planner")


def test_an_unknown_model_name_is_a_clear_404(client):
    with pytest.raises(openai.NotFoundError, match="no-such-adapter"):
        client.chat.completions.create(model="no-such-adapter", messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=4)
