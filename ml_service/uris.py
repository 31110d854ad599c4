"""Connection URIs as they may be shown: passwords masked or removed, never printed.

Pure string work, no I/O: every log line, error message and run tag that names a
database or server goes through these.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# `scheme://user:password@host...`: the password runs from the first ':' after
# the user to the '@' before a host that has no '@' itself (an unescaped '@' in
# the password is still masked whole).
_CREDENTIALS = re.compile(
    r"(?P<prefix>[A-Za-z][\w+.-]*://[^:/@\s]*:)(?P<password>[^\s/]*?)"
    r"(?=@[^@\s/]*(?:[/?#\s'\")]|$))"
)


def mask_password(uri: str) -> str:
    """`uri` with its password replaced by `***` (unchanged when it has none)."""
    return _CREDENTIALS.sub(lambda m: m.group("prefix") + MASK, uri)


def strip_password(uri: str) -> str:
    """`uri` without its password, for recording where others can read it.

    The client then takes the password from the driver's own sources
    (PGPASSWORD or ~/.pgpass for PostgreSQL), never from a shared record.
    """
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{hostinfo}"))


def is_http(uri: str | None) -> bool:
    """Whether a tracking URI names an MLflow tracking server."""
    return bool(uri) and uri.split(":", 1)[0].lower() in ("http", "https")  # type: ignore[union-attr]


def is_database(uri: str | None) -> bool:
    """Whether a URI is a SQLAlchemy database URL other than SQLite."""
    if not uri or "://" not in uri:
        return False
    scheme = uri.split("://", 1)[0].lower()
    return scheme.split("+", 1)[0] in ("postgresql", "postgres", "mysql", "mssql")
