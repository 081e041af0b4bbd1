"""Protobuf messages as the HTTP API sends them, and the JSON Schema of that JSON (OpenAPI components).

The JSON is the proto3 JSON mapping as `MessageToDict(message, preserving_proto_field_name=True)` writes it:
fields by their proto names, a field at its default value left out (so no field is required), 64-bit integers
as decimal strings, enums by name, Timestamps as RFC 3339 strings, bytes as base64. Fields the services keep for
themselves (INTERNAL) are left out of both. The schemas are derived from the message descriptors, so they follow
the protos as they change.
"""

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.json_format import MessageToDict

# Fields internal to the services: never in the API's JSON, nor in its schema.
INTERNAL = {
    "workforce.v1.TaskRecord": frozenset({"quota_reserved"}),      # the gateway's quota bookkeeping
    "workforce.v1.FileRef": frozenset({"object_key"}),             # where the object store keeps the file
    "workforce.v1.PlanState": frozenset({"applied", "outbox", "outbox_at_ms", "transitions", "replan_pending"}),
    "workforce.v1.TaskEvent": frozenset({"data_json"}),            # sent as `data` (an object)
}

_INT32 = {"type": "integer", "format": "int32", "minimum": -2**31, "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$",
          "description": "a 64-bit integer as a decimal string (proto3 JSON)"}
_UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]+$",
           "description": "an unsigned 64-bit integer as a decimal string (proto3 JSON)"}
_FLOAT = {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_T = FieldDescriptor
SCALARS = {
    _T.TYPE_INT32: _INT32, _T.TYPE_SINT32: _INT32, _T.TYPE_SFIXED32: _INT32,
    _T.TYPE_UINT32: _UINT32, _T.TYPE_FIXED32: _UINT32,
    _T.TYPE_INT64: _INT64, _T.TYPE_SINT64: _INT64, _T.TYPE_SFIXED64: _INT64,
    _T.TYPE_UINT64: _UINT64, _T.TYPE_FIXED64: _UINT64,
    _T.TYPE_DOUBLE: _FLOAT, _T.TYPE_FLOAT: _FLOAT,
    _T.TYPE_BOOL: {"type": "boolean"}, _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
# Well-known types have JSON forms of their own.
WELL_KNOWN = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.FieldMask": {"type": "string"},
}


def public_message(message):
    """The message as the API sends it: without the internal fields (a copy; the message is not changed)."""
    if _holds_internal(message.DESCRIPTOR):
        copy = type(message)()
        copy.CopyFrom(message)
        _strip(copy)
        return copy
    return message


def public_json(message) -> dict:
    """The message as the HTTP API sends it: its proto3 JSON without the internal fields."""
    return MessageToDict(public_message(message), preserving_proto_field_name=True)


def _strip(message) -> None:
    hidden = INTERNAL.get(message.DESCRIPTOR.full_name, ())
    for field, value in message.ListFields():
        if field.name in hidden:
            message.ClearField(field.name)
        elif field.message_type is not None and _holds_internal(field.message_type):
            if field.message_type.GetOptions().map_entry:
                items = value.values() if _is_message(field.message_type.fields_by_name["value"]) else ()
            else:
                items = value if field.is_repeated else (value,)
            for item in items:
                _strip(item)


def _is_message(field: FieldDescriptor) -> bool:
    return field.message_type is not None


_HOLDS: dict[str, bool] = {}


def _holds_internal(descriptor: Descriptor, seen: frozenset = frozenset()) -> bool:
    """Whether the message, or one it holds, has an internal field."""
    name = descriptor.full_name
    if name not in _HOLDS:
        if name in seen:          # a recursive type (Struct → Value → Struct): decided where it started
            return False
        _HOLDS[name] = name in INTERNAL or any(
            _holds_internal(f.message_type, seen | {name}) for f in descriptor.fields if _is_message(f))
    return _HOLDS[name]


def component_name(descriptor: Descriptor | EnumDescriptor) -> str:
    """A message's (or enum's) name in the OpenAPI components: its full name less the package."""
    return descriptor.full_name.removeprefix(descriptor.file.package + ".")


def ref(descriptor: Descriptor | EnumDescriptor) -> dict:
    return {"$ref": f"#/components/schemas/{component_name(descriptor)}"}


def schemas(*messages: Descriptor, required: dict[str, tuple[str, ...]] | None = None) -> dict[str, dict]:
    """The JSON Schemas of the messages and of every message and enum they hold, by component name. `required`:
    fields the HTTP API always sends in a message (by component name; e.g. a response it writes as a dict)."""
    out: dict[str, dict] = {}
    for descriptor in messages:
        _add_message(descriptor, out)
    for name, fields in (required or {}).items():
        out[name]["required"] = list(fields)
    return out


def _add_message(descriptor: Descriptor, out: dict) -> None:
    name = component_name(descriptor)
    if name in out:
        return
    out[name] = schema = {"type": "object", "title": name, "additionalProperties": False,
                          "description": f"{descriptor.full_name} in proto3 JSON (fields at their default value "
                                         "are left out)"}
    hidden = INTERNAL.get(descriptor.full_name, ())
    schema["properties"] = {f.name: _field(f, out) for f in descriptor.fields if f.name not in hidden}


def _field(field: FieldDescriptor, out: dict) -> dict:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        schema = {"type": "object", "additionalProperties": _single(value, out)}
        if key.type != _T.TYPE_STRING:
            schema["propertyNames"] = {"pattern": "^(-?[0-9]+|true|false)$"}
        return schema
    single = _single(field, out)
    return {"type": "array", "items": single} if field.is_repeated else single


def _single(field: FieldDescriptor, out: dict) -> dict:
    if field.enum_type is not None:
        name = component_name(field.enum_type)
        out.setdefault(name, {"type": "string", "title": name, "enum": [v.name for v in field.enum_type.values]})
        return ref(field.enum_type)
    if field.message_type is not None:
        full = field.message_type.full_name
        if full in WELL_KNOWN:
            return dict(WELL_KNOWN[full])
        if full.startswith("google.protobuf.") and full.endswith("Value"):   # wrappers: the value itself
            return _single(field.message_type.fields_by_name["value"], out)
        _add_message(field.message_type, out)
        return ref(field.message_type)
    return dict(SCALARS[field.type])
