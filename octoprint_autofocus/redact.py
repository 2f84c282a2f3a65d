"""Keep secrets out of what people and logs see: camera URLs without credentials or tokens.

A camera URL may carry a user name and password (``http://user:pw@cam/stream``) or an
access token in its query (the simulated microscope's ``?token=...``). Messages, run
records and log lines show :func:`redact_url` instead; only mjpg-streamer's harmless
``action`` parameter survives, so ``/?action=stream`` still says which endpoint is meant.
:func:`split_credentials` turns credentials in a URL into an ``Authorization`` header.
"""

import base64
import urllib.parse
from typing import Dict, Iterable, Tuple

__all__ = ["redact_url", "redact_text", "split_credentials"]

KEPT_QUERY_KEYS = frozenset({"action"})
"""Query parameters shown in redacted URLs (they name an endpoint, they are no secret)."""
HIDDEN = "***"


def redact_url(url: str) -> str:
    """``url`` without user name, password, fragment or query values other than ``action``.

    >>> redact_url("http://admin:secret@10.0.0.9:8080/?action=stream&token=abc#x")
    'http://10.0.0.9:8080/?action=stream'
    """
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:  # an IPv6 address
            netloc = "[%s]" % netloc
        if parts.port is not None:
            netloc += ":%d" % parts.port
    except ValueError:  # a malformed port or bracket: show nothing of it
        return HIDDEN
    query = [(key, value) for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if key in KEPT_QUERY_KEYS]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, urllib.parse.urlencode(query), ""))


def _secrets(url: str) -> Iterable[str]:
    """The parts of ``url`` that must not be shown: credentials and hidden query values."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return []
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    return [part for part in (parts.username, parts.password) if part] + [
        value for key, value in query if key not in KEPT_QUERY_KEYS and value
    ]


def redact_text(text: str, urls: Iterable[str]) -> str:
    """``text`` (e.g. an exception message) with each of ``urls`` shown redacted and any
    credential or token of theirs hidden wherever else it appears."""
    text = str(text)
    for url in urls:
        if not url:
            continue
        text = text.replace(url, redact_url(url))
        for secret in sorted(_secrets(url), key=len, reverse=True):
            if len(secret) >= 3:
                text = text.replace(secret, HIDDEN)
                text = text.replace(urllib.parse.quote(secret, safe=""), HIDDEN)
    return text


def split_credentials(url: str) -> Tuple[str, Dict[str, str]]:
    """``url`` without ``user:password@`` and the HTTP Basic ``Authorization`` header for
    them (an empty dict when the URL has none)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, {}
    netloc = parts.netloc.rpartition("@")[2]
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, {"Authorization": "Basic " + token}
