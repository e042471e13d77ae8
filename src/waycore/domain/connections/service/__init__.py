"""Connection service verbs; each public call is one transaction."""

from waycore.domain.connections.service.common import present
from waycore.domain.connections.service.create import create_connection
from waycore.domain.connections.service.lifecycle import (
    get_connection,
    list_statement,
    request_sync,
    revoke_connection,
    update_connection,
)
from waycore.domain.connections.service.reads import read_connection
from waycore.domain.connections.service.setup import (
    complete_setup,
    put_credentials,
    submit_verification_code,
)

__all__ = [
    "complete_setup",
    "create_connection",
    "get_connection",
    "list_statement",
    "present",
    "put_credentials",
    "read_connection",
    "request_sync",
    "revoke_connection",
    "submit_verification_code",
    "update_connection",
]
