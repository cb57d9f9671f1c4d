"""Keep credentials out of URLs, headers and log lines.

dlt redacts tokens in URLs before logging; we do the same and go one step further because
the libraries under the client log credentials themselves at DEBUG: urllib3 logs every
request line with its query string (an API key passed as `?api_key=` included), and
requests-oauthlib logs the token request headers and body (client secret, JWT assertion)
and the token response. `guard_library_loggers` attaches a `SecretFilter` to exactly those
loggers.
"""

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***"

_SECRET_NAMES = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "key",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "signature",
        "oauth_signature",
        "client_assertion",
        "assertion",
        "code",
        "sig",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "x_api_key",
    }
)
# Substrings that make any other name secret: X-Amz-Security-Token and X-Amz-Signature in
# pre-signed bucket URLs (warehouse snapshot drops), vendor-specific X-Foo-Api-Key headers.
_SECRET_WORDS = ("token", "secret", "password", "signature", "assertion", "apikey", "api_key")
# Page tokens (Google Classroom pageToken, Ed-Fi 7.3 Next-Page-Token) are opaque cursors,
# not credentials; keeping them visible lets an archived page be traced to its request.
_PUBLIC_WORDS = ("pagetoken", "page_token")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter, header or JSON key name looks like it holds a secret.

    Args:
        name: the name as it appears (any case, `-` or `_` separators).

    Returns:
        True for the known credential names, names ending in `_key`, and names containing
        token/secret/password/signature/assertion, except page tokens.
    """
    normalized = name.strip().lower().replace("-", "_")
    if any(word in normalized for word in _PUBLIC_WORDS):
        return False
    return (
        normalized in _SECRET_NAMES
        or normalized.endswith("_key")
        or any(word in normalized for word in _SECRET_WORDS)
    )


def redact_url(url: str, extra_params: Iterable[str] = ()) -> str:
    """Mask secret-looking query parameter values and URL passwords.

    The query is edited in place rather than re-encoded, so everything that is not a
    secret stays byte-for-byte as sent.

    Args:
        url: absolute or relative URL.
        extra_params: further parameter names to mask (an API key sent under a vendor's own
            parameter name).

    Returns:
        The URL with `name=***` for every secret parameter.
    """
    extra = {name.lower() for name in extra_params}
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, sep, _ = pair.partition("=")
        decoded = unquote_plus(name)
        if sep and (is_secret_name(decoded) or decoded.lower() in extra):
            pair = f"{name}={MASK}"
        pairs.append(pair)
    return urlunsplit(parts._replace(netloc=netloc, query="&".join(pairs)))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy headers with credential values masked.

    Args:
        headers: request or response headers.

    Returns:
        A plain dict; Authorization, Cookie, Set-Cookie, X-Api-Key and any header whose
        name contains token/secret/key map to `***`.
    """
    return {
        name: MASK if is_secret_name(name) or "key" in name.lower() else value
        for name, value in headers.items()
    }


# name=value / name="value" pairs (query strings, form bodies, OAuth 1 headers).
_PAIR = re.compile(r"(?P<name>[A-Za-z][\w.\-]*)=(?P<quote>\"?)(?P<value>[^&\s\"',;]+)(?P=quote)")
# "name": "value" / 'name': 'value' (JSON bodies and Python dict reprs in library logs).
_MAPPING = re.compile(
    r"(?P<q1>[\"'])(?P<name>[\w\-]+)(?P=q1)(?P<sep>\s*:\s*)(?P<q2>[\"'])(?P<value>[^\"']*)(?P=q2)"
)
# Authorization header values written out on their own.
_SCHEME = re.compile(r"\b(?P<scheme>Basic|Bearer)\s+(?P<value>[\w.~+/=\-]+)")


def redact_text(text: str) -> str:
    """Mask credentials in free text by shape, without knowing their values.

    Args:
        text: a log message or exception text.

    Returns:
        The text with secret-named pairs, secret JSON/dict entries and Basic/Bearer
        credentials replaced by `***`.
    """

    def pair(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"]):
            return match[0]
        return f"{match['name']}={match['quote']}{MASK}{match['quote']}"

    def mapping(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"]):
            return match[0]
        q1, q2 = match["q1"], match["q2"]
        return f"{q1}{match['name']}{q1}{match['sep']}{q2}{MASK}{q2}"

    text = _PAIR.sub(pair, text)
    text = _MAPPING.sub(mapping, text)
    return _SCHEME.sub(lambda m: f"{m['scheme']} {MASK}", text)


class SecretFilter(logging.Filter):
    """Rewrite log records so known secret values and credential-shaped text are masked.

    Attach it to a logger (records created on that logger) or a handler (everything the
    handler emits). The record is rewritten, never dropped.

    Args:
        secrets: exact values to mask wherever they appear (API keys, passwords, tokens).
    """

    # Shorter values would mask ordinary words and numbers in messages.
    _MIN_SECRET_LENGTH = 4

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also mask these values from now on.

        Args:
            secrets: values to mask; empty and very short values are ignored.
        """
        with self._lock:
            known = set(self._secrets)
            known.update(s for s in secrets if s and len(s) >= self._MIN_SECRET_LENGTH)
            # Longest first, so a secret containing another is masked whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message in place; always keeps the record."""
        message = record.getMessage()
        cleaned = redact_text(message)
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, MASK)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# Exact logger names: a filter on a logger only sees records created on that logger, not
# those propagated from its children.
_CREDENTIAL_LOGGING_LIBRARIES = (
    "urllib3.connectionpool",
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth2_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib.oauth2.rfc6749",
    "edassets.adapters.http.client",
    "edassets.adapters.http.transport",
)
_PROCESS_FILTER = SecretFilter()
_install_lock = threading.Lock()


def guard_library_loggers(secrets: Iterable[str] = ()) -> SecretFilter:
    """Attach the process-wide `SecretFilter` to the loggers that see credentials.

    Idempotent: the filter is attached once; each call only adds values to mask.

    Args:
        secrets: configured credential values (API keys, client secrets, passwords).

    Returns:
        The process-wide filter, e.g. to attach to an application log handler too.
    """
    with _install_lock:
        for name in _CREDENTIAL_LOGGING_LIBRARIES:
            logger = logging.getLogger(name)
            if _PROCESS_FILTER not in logger.filters:
                logger.addFilter(_PROCESS_FILTER)
    _PROCESS_FILTER.add(secrets)
    return _PROCESS_FILTER
