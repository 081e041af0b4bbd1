"""How a service authenticates to NATS and protects the connection (WF_NATS_*): a .creds file (WF_NATS_CREDS),
or a user and password (WF_NATS_USER, WF_NATS_PASSWORD) with replies on the user's own inbox prefix
(identities.py); TLS with a CA (WF_NATS_TLS_CA, and a client certificate for mutual TLS: WF_NATS_TLS_CERT,
WF_NATS_TLS_KEY), or a tls:// URL with the system's CAs."""

import ssl

from ..config import Settings
from .identities import inbox_prefix


def connect_options(settings: Settings) -> dict:
    opts: dict = {}
    if settings.nats_creds:
        opts["user_credentials"] = settings.nats_creds
    if settings.nats_user:
        opts["user"] = settings.nats_user
        opts["password"] = settings.nats_password
        opts["inbox_prefix"] = inbox_prefix(settings.nats_user)
    if settings.nats_tls_ca or settings.nats_tls_cert or settings.nats_url.startswith("tls://"):
        context = ssl.create_default_context(cafile=settings.nats_tls_ca or None)
        if settings.nats_tls_cert:
            context.load_cert_chain(settings.nats_tls_cert, settings.nats_tls_key or None)
        opts["tls"] = context
    return opts
