"""Tenancy: who is calling, and which tasks they may touch.

An identity is the name of the API key a request carries (WF_API_KEYS="alice:key1,bob:key2"). A task belongs to
the identity that submitted it (TaskRecord.owner). Every read, watch, cancel, plan and listing goes through
`Caller.sees`: another tenant's task answers exactly like a task that does not exist. Identities named in
WF_ADMIN_IDENTITIES see (and may cancel) every task.
"""

import hashlib
import logging
from dataclasses import dataclass

from ..core.config import Settings
from .auth import ApiKeys, key_from_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    identity: str
    admin: bool = False

    def sees(self, owner: str) -> bool:
        """Whether a task owned by `owner` is visible to this caller."""
        return self.admin or owner == self.identity

    @property
    def scope(self) -> str:
        """The identity as a subject/key token (names may hold any character; tokens may not)."""
        return scope_of(self.identity)


def scope_of(identity: str) -> str:
    return "o" + hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Tenancy:
    """Turns request credentials into a Caller."""

    def __init__(self, keys: ApiKeys, settings: Settings):
        self.keys = keys
        self.admins = frozenset(filter(None, (n.strip() for n in settings.admin_identities.split(","))))
        unknown = self.admins - set(keys.keys.values())
        if unknown and not keys.disabled:
            log.warning("WF_ADMIN_IDENTITIES names no API key: %s", ", ".join(sorted(unknown)))

    def caller(self, authorization: str | None, x_api_key: str | None) -> Caller:
        """The caller, or Unauthenticated."""
        identity = self.keys.check(key_from_headers(authorization, x_api_key))
        return Caller(identity, identity in self.admins)

    def caller_from_metadata(self, metadata) -> Caller:
        values = dict(metadata or ())
        return self.caller(values.get("authorization"), values.get("x-api-key"))
