"""Schemes that put a fixed credential on every request, or sign each one: API key, bearer, Basic, OAuth 1.

Nothing is exchanged with the vendor beforehand, so there is nothing to refresh: a
rejection is final.
"""

from typing import Literal

import requests
from oauthlib.oauth1 import SIGNATURE_TYPE_AUTH_HEADER
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1

from edassets.adapters.http.auth.base import Auth


class ApiKeyAuth(Auth):
    """A static API key in a header (default `X-Api-Key`) or a query parameter.

    Args:
        key: the API key.
        header: header name; used when `query_param` is None.
        query_param: send the key as this query parameter instead of a header.
    """

    def __init__(
        self, key: str, header: str | None = "X-Api-Key", query_param: str | None = None
    ) -> None:
        if not header and not query_param:
            raise ValueError("ApiKeyAuth needs a header or a query_param to carry the key")
        self._key = key
        self.header = None if query_param else header
        self.query_param = query_param

    def __repr__(self) -> str:
        where = (
            f"query_param={self.query_param!r}" if self.query_param else f"header={self.header!r}"
        )
        return f"ApiKeyAuth({where})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Put the key in the query or the header."""
        if self.query_param:
            r.prepare_url(r.url or "", {self.query_param: self._key})
        elif self.header:
            r.headers[self.header] = self._key
        return r

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key."""
        return (self._key,)

    @property
    def secret_params(self) -> tuple[str, ...]:
        """The key's query parameter, when it travels in the URL."""
        return (self.query_param,) if self.query_param else ()


class BearerAuth(Auth):
    """A static bearer token (a Clever district-app token, a Canvas admin token).

    Args:
        token: the token; a rejection is final because there is nothing to refresh.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth()"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the bearer header."""
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    @property
    def secrets(self) -> tuple[str, ...]:
        """The token."""
        return (self._token,)


class BasicAuth(Auth):
    """HTTP Basic (xAPI LRS key:secret).

    Args:
        username: user or LRS key.
        password: password or LRS secret.
    """

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password
        self._basic = HTTPBasicAuth(username, password)

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the Basic header."""
        return self._basic(r)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password."""
        return (self._password,)


class OAuth1Hmac(Auth):
    """One-legged OAuth 1.0a: consumer key and secret, no token (OneRoster 1.1, Schoology).

    OneRoster 1.1 errata require HMAC-SHA256; many vendors still only accept HMAC-SHA1.
    requests-oauthlib signs each prepared request, so every retry gets a fresh nonce and
    timestamp.

    Args:
        consumer_key: OAuth consumer key.
        consumer_secret: OAuth consumer secret.
        signature_method: "HMAC-SHA256" or "HMAC-SHA1".
    """

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256",
    ) -> None:
        if signature_method not in ("HMAC-SHA256", "HMAC-SHA1"):
            raise ValueError(f"unsupported OAuth 1 signature method {signature_method!r}")
        self.consumer_key = consumer_key
        self.signature_method = signature_method
        self._consumer_secret = consumer_secret
        self._oauth1 = OAuth1(
            consumer_key,
            client_secret=consumer_secret,
            signature_method=signature_method,
            signature_type=SIGNATURE_TYPE_AUTH_HEADER,
        )

    def __repr__(self) -> str:
        return f"OAuth1Hmac(consumer_key={self.consumer_key!r}, {self.signature_method})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Sign the request (fresh nonce and timestamp)."""
        signed: requests.PreparedRequest = self._oauth1(r)
        return signed

    @property
    def secrets(self) -> tuple[str, ...]:
        """The consumer secret."""
        return (self._consumer_secret,)
