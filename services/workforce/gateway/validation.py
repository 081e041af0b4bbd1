"""A request FastAPI could not validate, as the API's own error: 400 (like every other bad input) naming the field
at fault in `param`; an unknown field by name (with the field meant, where one is close); a body of the wrong
media type 415, saying which to send."""

import difflib
import typing

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from .errors import ApiError, InvalidInput, InvalidJson, UnsupportedMediaType

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def as_api_error(request: Request, exc: RequestValidationError, form_paths=()) -> ApiError:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidJson("the request body is not valid JSON", param="body")
    if any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors):
        wrong_media = _wrong_media_type(request, request.url.path in form_paths)
        if wrong_media is not None:
            return wrong_media
    first = errors[0] if errors else {}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "extra_forbidden" and len(loc) == 2:
        return unknown_field(str(loc[1]), _body_fields(request), "in the body")
    detail = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return InvalidInput(detail or "invalid request", param=param_of(loc))


def param_of(loc: tuple) -> str | None:
    """The request field a validation error's location names: the query parameter, header or path parameter, the
    body field (dotted below the top: "messages.0.content"), or "body" for the body as a whole."""
    if not loc:
        return None
    path = []
    for part in loc[1:]:
        if _union_tag(part):     # pydantic names the member of a union it tried: "content.str", "….list[Part]"
            break
        path.append(str(part))
    return ".".join(path) or str(loc[0])


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "bytes", "none"})


def _union_tag(part) -> bool:
    return isinstance(part, str) and (part in _TYPE_NAMES or "[" in part or "-" in part)


def unknown_field(name: str, known: list[str], where: str) -> InvalidInput:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    fields = f"; the fields are: {', '.join(known)}" if known else ""
    return InvalidInput(f"unknown field {name[:60]!r} {where}{hint}{fields}", param=name[:60])


def check_known(names, known: list[str], where: str) -> None:
    """InvalidInput for the first of `names` that is not one of `known` (e.g. the fields of an upload form)."""
    for name in names:
        if name not in known:
            raise unknown_field(name, known, where)


def _wrong_media_type(request: Request, form: bool) -> UnsupportedMediaType | None:
    """415 for a body the route does not read (FastAPI reads JSON only with a JSON Content-Type)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if form:
        want = "multipart/form-data (the question and options as form fields, the files as file parts)"
        fits = media in FORM_TYPES
    else:
        want = "application/json (Content-Type: application/json) with a JSON object"
        fits = media == "application/json" or media.endswith("+json")
    if fits or not (media or _has_body(request)):
        return None   # a body of the right type, or none at all: the field errors stand
    sent = f"is {media[:80]!r}" if media else "has no Content-Type"
    return UnsupportedMediaType(f"the body {sent}: send {want}", param="body")


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return (length.isdigit() and int(length) > 0) or "transfer-encoding" in request.headers


def _body_fields(request: Request) -> list[str]:
    """The fields of the route's body model (none when it has no single model)."""
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    for model in (annotation, *typing.get_args(annotation)):
        if hasattr(model, "model_fields"):
            return list(model.model_fields)
    return []


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: a query parameter the API route does not take is a 400 naming it (`?limt=5` was
    answered as if nothing had been asked). async: FastAPI runs a plain `def` dependency in its thread pool, a
    thread hop on every request."""
    route = request.scope.get("route")
    if not request.scope.get("query_string") or route is None or not request.url.path.startswith("/v1/"):
        return
    check_known(request.query_params.keys(), sorted(_query_names(route.dependant)), "in the query")


def _query_names(dependant) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
