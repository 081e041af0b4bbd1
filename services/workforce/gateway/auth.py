"""API keys: WF_API_KEYS="name:key,name2:key2" (or one bare key). Auth can be turned off only explicitly."""

import hmac

from ..core.config import Settings
from .errors import Unauthenticated


class ApiKeys:
    def __init__(self, settings: Settings):
        self.disabled = settings.auth_disabled
        self.keys: dict[str, str] = {}
        for i, item in enumerate(filter(None, (p.strip() for p in settings.api_keys.split(",")))):
            name, sep, key = item.partition(":")
            if not sep:
                name, key = f"key{i}", name
            self.keys[key.strip()] = name.strip()
        if not self.disabled and not self.keys:
            raise SystemExit("gateway: no API keys configured. Set WF_API_KEYS=name:key[,…] "
                             "(or WF_AUTH_DISABLED=true for local use only)")

    def check(self, key: str | None) -> str:
        """The key's name, or Unauthenticated."""
        if self.disabled:
            return "anonymous"
        if not key:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
        for known, name in self.keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return name
        raise Unauthenticated("invalid API key")


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The API key of `Authorization: Bearer <key>` or `x-api-key: <key>` (HTTP headers and gRPC metadata alike);
    Unauthenticated when both carry a key and the keys differ (which one was meant is anyone's guess)."""
    bearer = authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None
    key = x_api_key.strip() if x_api_key else None
    if bearer and key and not hmac.compare_digest(bearer.encode(), key.encode()):
        raise Unauthenticated("two different API keys: 'Authorization: Bearer …' and 'x-api-key' differ; send one")
    return key or bearer or None
