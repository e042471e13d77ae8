"""Portal URL normalization (API.md section 8.2).

Lowercase scheme and host (IDN → punycode); drop the default port, the fragment and a trailing
``/``; keep the query: ``https://Bank.example:443/login/#a`` → ``https://bank.example/login``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_host(host: str) -> str:
    """Lowercase ``host`` and encode an internationalized name as punycode (A-labels)."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise ValueError("URL has no host")
    if host.startswith("[") or host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"invalid internationalized host name: {exc}") from None


def normalize_portal_url(url: str) -> str:
    """The canonical spelling of an absolute http(s) URL; ``ValueError`` when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError("URL must use http or https")
    if parts.hostname is None:
        raise ValueError("URL has no host")
    host = normalize_host(parts.hostname)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def host_of(normalized_url: str) -> str:
    """The host of a normalized URL, without brackets or port."""
    return (urlsplit(normalized_url).hostname or "").lower()
