"""OAuth 2.0 client-credentials schemes: a bearer token fetched from the vendor, cached and refreshed.

`OAuth2ClientCredentials` authenticates with the client secret (OneRoster 1.2, Ed-Fi),
`OAuth2JwtAssertion` with a signed JWT (LTI Advantage); both share the token cache.
"""

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests_oauthlib import OAuth2Session

from edassets.adapters.http.auth.base import Auth
from edassets.adapters.http.errors import CredentialExchangeError
from edassets.adapters.http.redaction import redact_url


def _token_endpoint_status(response: requests.Response) -> requests.Response:
    """requests-oauthlib compliance hook: classify by HTTP status before oauthlib parses.

    oauthlib only reads the body, so a 503 HTML page would surface as "missing access
    token". The OAuth `error` code (RFC 6749 §5.2) is safe to report; the description
    is not shown because some servers echo the request in it.
    """
    if response.status_code < 400:
        return response
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    transient = response.status_code >= 500 or response.status_code == 429
    raise CredentialExchangeError(
        request=f"POST {redact_url(response.url)}",
        status=response.status_code,
        reason=f"token endpoint {'unavailable' if transient else 'refused'}"
        + (f" ({code})" if isinstance(code, str) else ""),
        retryable=transient,
    )


def _no_client_authentication(r: requests.PreparedRequest) -> requests.PreparedRequest:
    """Passed as `auth` so requests-oauthlib does not add client_id Basic credentials."""
    return r


class _CachedTokenAuth(Auth, ABC):
    """Shared machinery of the OAuth 2 client-credentials flavours.

    Caches the bearer token, fetches a new one when it is within the refresh margin of its
    `expires_in` (proactive, as edfi_api_client does, so long runs do not hit 401s), and
    drops it on `on_unauthorized` so the next request fetches a fresh one. Thread-safe.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        scope: str | None,
        refresh_margin_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self.refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._timeout_s = 30.0
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at: float | None = None
        self._oauth = OAuth2Session(
            client=BackendApplicationClient(client_id=client_id, scope=scope)
        )
        self._oauth.register_compliance_hook("access_token_response", _token_endpoint_status)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def bind(self, session: requests.Session, timeout_s: float) -> None:
        """Use the client's timeout for token requests."""
        self._timeout_s = timeout_s

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the bearer header, fetching a token first when none is fresh."""
        r.headers["Authorization"] = f"Bearer {self._current_token()}"
        return r

    def on_unauthorized(self) -> bool:
        """Drop the token: the vendor revoked or expired it early; fetch anew next time."""
        with self._lock:
            self._token = None
        return True

    def _current_token(self) -> str:
        with self._lock:
            stale = self._refresh_at is not None and self._clock() >= self._refresh_at
            if self._token is None or stale:
                token = self._fetch_token()
                self._token = token["access_token"]
                expires_in = token.get("expires_in")
                self._refresh_at = None
                if expires_in:
                    lifetime = float(expires_in)
                    # A margin as long as the lifetime would refetch on every request
                    # (some vendors issue 60 s tokens); never refresh before half-life.
                    margin = min(self.refresh_margin_s, lifetime / 2)
                    self._refresh_at = self._clock() + lifetime - margin
            return self._token

    def _fetch_token(self) -> Mapping[str, Any]:
        request = f"POST {redact_url(self.token_url)}"
        try:
            return self._request_token()
        except Warning as warning:
            # Vendors may grant a narrower or reordered scope (RFC 6749 §3.3 allows it);
            # oauthlib raises a Warning carrying the token unless OAUTHLIB_RELAX_TOKEN_SCOPE
            # is set process-wide, which we do not want to require.
            token = getattr(warning, "token", None)
            if token is None or "access_token" not in token:
                raise
            return dict(token)
        except OAuth2Error as exc:
            raise CredentialExchangeError(
                request=request,
                status=None,
                reason=f"token request failed ({exc.error})",
                retryable=False,
            ) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise CredentialExchangeError(
                request=request, status=None, reason=type(exc).__name__, retryable=True
            ) from None

    @abstractmethod
    def _request_token(self) -> Mapping[str, Any]:
        """POST to the token endpoint through `self._oauth`; return oauthlib's token."""


class OAuth2ClientCredentials(_CachedTokenAuth):
    """OAuth 2.0 client credentials (OneRoster 1.2, Ed-Fi ODS, Aeries).

    Args:
        token_url: token endpoint (https; oauthlib refuses plain http unless
            OAUTHLIB_INSECURE_TRANSPORT is set, as the tests do for 127.0.0.1).
        client_id: client id (Ed-Fi "key").
        client_secret: client secret.
        scope: space-separated scopes, e.g. the OneRoster roster-core.readonly scope URL.
        client_auth: "basic" sends the credentials as HTTP Basic (Ed-Fi ODS expects this),
            "body" as form fields.
        refresh_margin_s: fetch a new token this long before `expires_in` runs out.
        clock: monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        client_auth: Literal["basic", "body"] = "basic",
        refresh_margin_s: float = 60,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client_auth not in ("basic", "body"):
            raise ValueError(f"client_auth must be 'basic' or 'body', got {client_auth!r}")
        super().__init__(token_url, client_id, scope, refresh_margin_s, clock)
        self.client_auth = client_auth
        self._client_secret = client_secret

    @property
    def secrets(self) -> tuple[str, ...]:
        """The client id and secret: the id is no password, but logs have no use for either
        (requests-oauthlib logs the id at DEBUG) and vendors treat the pair as one credential."""
        return (self.client_id, self._client_secret)

    def _request_token(self) -> Mapping[str, Any]:
        token: Mapping[str, Any] = self._oauth.fetch_token(
            self.token_url,
            client_secret=self._client_secret,
            include_client_id=self.client_auth == "body",
            timeout=self._timeout_s,
        )
        return token


_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_LIFETIME_S = 300


class OAuth2JwtAssertion(_CachedTokenAuth):
    """OAuth 2.0 client credentials authenticated by an RS256 JWT (LTI Advantage AGS).

    The assertion is `{iss: client_id, sub: client_id, aud: token URL, iat, exp: +5 min,
    jti: uuid4}` signed with the tool's private key (RFC 7523 §2.2, 1EdTech Security
    Framework §4.1), posted as `client_assertion` with the jwt-bearer assertion type.

    Args:
        token_url: the platform's token endpoint.
        client_id: the tool's client id on that platform.
        private_key_pem: RSA private key, PEM; parsed at construction so a bad key fails
            at start-up, not mid-run.
        key_id: `kid` header naming the key in the tool's JWKS.
        scope: space-separated AGS scopes.
        audience: `aud` claim when the platform wants something other than the token URL.
        refresh_margin_s: fetch a new token this long before `expires_in` runs out.
        clock: monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key_pem: str | bytes,
        key_id: str | None = None,
        scope: str | None = None,
        audience: str | None = None,
        refresh_margin_s: float = 60,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(token_url, client_id, scope, refresh_margin_s, clock)
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("OAuth2JwtAssertion signs RS256 and needs an RSA private key")
        self._private_key = key
        self.key_id = key_id
        self.audience = audience

    def _assertion(self) -> str:
        issued = int(time.time())  # JWT times are wall-clock epoch seconds
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience or self.token_url,
            "iat": issued,
            "exp": issued + _ASSERTION_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._private_key, algorithm="RS256", headers=headers)

    def _request_token(self) -> Mapping[str, Any]:
        token: Mapping[str, Any] = self._oauth.fetch_token(
            self.token_url,
            auth=_no_client_authentication,
            include_client_id=False,
            client_assertion_type=_JWT_BEARER,
            client_assertion=self._assertion(),
            timeout=self._timeout_s,
        )
        return token
