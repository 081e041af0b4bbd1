"""The gateway's pure checks: text, from_seq, page tokens, quota overrides and Retry-After."""

import pytest

from workforce.gateway.errors import InvalidInput
from workforce.gateway.limits import _route_label, check_from_seq, check_text, safe_text
from workforce.gateway.quotas import Limits, _retry_after, parse_overrides
from workforce.gateway.task_index import decode_token, encode_token
from workforce.gateway.tenancy import Caller, scope_of


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "\x1b[2J", "\x7f", "\x85", "\ufffe"])
def test_check_text_rejects_surrogates_and_controls(text):
    with pytest.raises(InvalidInput):
        check_text("q", text)


def test_check_text_allows_ordinary_text_and_line_breaks_only_where_multiline():
    check_text("q", "tabs\tnewlines\r\n émoji 🙂 中文")
    with pytest.raises(InvalidInput):
        check_text("key", "a\nb", multiline=False)
    assert safe_text("bad \ud800").encode("utf-8")


def test_from_seq_range():
    check_from_seq(0, 0)
    check_from_seq(11, 10)
    for bad in (-1, 12, 2**63, 2**64):
        with pytest.raises(InvalidInput):
            check_from_seq(bad, 10)


def test_page_tokens_round_trip_and_reject_garbage():
    assert decode_token(encode_token(12345)) == 12345
    for bad in ("", "%%%", "czA", "eA", "c" * 100, encode_token(1)[:-1] + "!"):
        with pytest.raises(InvalidInput):
            decode_token(bad)


def test_quota_overrides():
    assert parse_overrides("batch=500/3000, ci=5/0") == {"batch": Limits(500, 3000), "ci": Limits(5, 0)}
    assert parse_overrides("") == {}
    for bad in ("batch", "batch=5", "=1/2", "x=a/b"):
        with pytest.raises(SystemExit):
            parse_overrides(bad)


def test_retry_after_is_when_the_window_has_room():
    # 60 last minute, none this minute, 30 s into it, limit 60: half of last minute still counts (30 + 1 ≤ 60).
    assert _retry_after(before=60, current=30, elapsed=30, per_minute=60) >= 1
    # Full this minute: only the next window helps.
    assert 30 <= _retry_after(before=0, current=10, elapsed=30, per_minute=10) <= 90
    # Last minute's share drains first.
    assert _retry_after(before=120, current=0, elapsed=0, per_minute=60) <= 31


def test_identity_scopes_are_tokens_and_distinct():
    assert scope_of("alice") != scope_of("bob") and scope_of("a.b*>c").isalnum()
    assert Caller("ops", admin=True).sees("alice") and not Caller("bob").sees("alice")


def test_the_request_metric_labels_routes_by_template_and_the_console_by_its_folder():
    class Route:
        path = "/v1/tasks/{task_id}"

    assert _route_label({"route": Route(), "path": "/v1/tasks/t123"}) == "/v1/tasks/{task_id}"
    assert _route_label({"path": "/console/js/app.js"}) == "/console/*"
    assert _route_label({"path": "/docs-assets/swagger-ui.css"}) == "/docs-assets/*"
    assert _route_label({"path": "/wp-admin/x"}) == "unmatched"     # whatever clients send: few label values
    assert _route_label({"path": "/openapi.json"}) == "/openapi.json"


def test_a_request_refused_before_routing_is_counted_by_its_route():
    from fastapi import APIRouter, FastAPI

    app = FastAPI()

    @app.get("/v1/tasks/{task_id}")
    async def get_task(task_id: str):
        return {}

    included = APIRouter()

    @included.post("/v1/chat/completions")
    async def chat():
        return {}

    app.include_router(included)   # as the gateway adds its OpenAI, approval and observation routes
    scope = {"type": "http", "method": "GET", "path": "/v1/tasks/t123", "root_path": ""}
    assert _route_label(scope, app.routes) == "/v1/tasks/{task_id}"
    chat_scope = scope | {"method": "POST", "path": "/v1/chat/completions"}
    assert _route_label(chat_scope, app.routes) == "/v1/chat/completions"
    assert _route_label(scope | {"path": "/v2/nothing"}, app.routes) == "unmatched"
