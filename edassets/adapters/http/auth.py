"""Auth schemes a platform spec names: requests `AuthBase` subclasses plus three hooks.

Each object is configuration (set at construction, never changed) plus runtime state
(a cached token, a login). `RestClient` calls:

- `bind(session, timeout_s)` once, so schemes that talk to the vendor themselves know the
  client's session and timeout;
- `session_expired(response)` on every response, for schemes that detect expiry by
  something other than a status (a redirect to the login page);
- `on_unauthorized()` when the vendor rejects the credentials; True means the state was
  refreshed and the request is worth sending once more.

OAuth signing and JWTs come from requests-oauthlib, oauthlib and PyJWT, never by hand.
`repr()` of every scheme omits its secrets, because specs get printed.
"""

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import jwt
import requests
from bs4 import BeautifulSoup
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth1 import SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1, OAuth2Session

from edassets.adapters.http.errors import CredentialExchangeError
from edassets.adapters.http.redaction import redact_url


class Auth(AuthBase):
    """Base of the adapter's auth schemes; the hooks default to "nothing to refresh"."""

    def bind(self, session: requests.Session, timeout_s: float) -> None:
        """Remember the client's session and timeout (called once by `RestClient`).

        Args:
            session: the session every API request of the client goes through.
            timeout_s: the client's per-request timeout, reused for credential requests.
        """

    def session_expired(self, response: requests.Response) -> bool:
        """Whether a response shows the credentials lapsed in a way no status says."""
        return False

    def on_unauthorized(self) -> bool:
        """Refresh credentials after a rejection.

        Returns:
            True when the state was refreshed and the request should be sent once more.
        """
        return False

    @property
    def secrets(self) -> tuple[str, ...]:
        """Configured credential values, for log filters to mask."""
        return ()

    @property
    def secret_params(self) -> tuple[str, ...]:
        """Query parameter names that carry a credential, for URL redaction."""
        return ()


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


class FormLoginSession(Auth):
    """Cookie session from an HTML login form with a CSRF token (dashboards without an API).

    Logs in on the client's own `requests.Session`, so the session cookie the vendor sets
    is sent with every later request: GET the login page, post back every hidden input of
    the form holding the password field (the CSRF token among them) plus the credentials.
    An expired session shows as 401/403 or as a redirect to the login page; the client
    then calls `on_unauthorized`, which logs in again.

    Args:
        login_url: URL of the login page (the form may post elsewhere via `action`).
        username: account user name.
        password: account password.
        username_field: name of the username input.
        password_field: name of the password input; locates the login form.
        csrf_field: name of the hidden CSRF input that must be present, None if the form
            has none.
        logged_out_markers: URL path fragments meaning "you were sent to log in" when a
            request ends on them after a redirect.
    """

    def __init__(
        self,
        login_url: str,
        username: str,
        password: str,
        username_field: str = "username",
        password_field: str = "password",
        csrf_field: str | None = "csrf_token",
        logged_out_markers: tuple[str, ...] = ("login",),
    ) -> None:
        self.login_url = login_url
        self.username = username
        self.username_field = username_field
        self.password_field = password_field
        self.csrf_field = csrf_field
        self.logged_out_markers = tuple(marker.lower() for marker in logged_out_markers)
        self._password = password
        self._session: requests.Session | None = None
        self._timeout_s = 30.0
        self._logged_in = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FormLoginSession(login_url={self.login_url!r}, username={self.username!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password."""
        return (self._password,)

    def bind(self, session: requests.Session, timeout_s: float) -> None:
        """Log in on this session (lazily, at the first request).

        Binding to another client's session starts over with a fresh login there; use
        one instance per client, since two clients in flight would share one login.
        """
        with self._lock:
            if session is not self._session:
                self._session, self._logged_in = session, False
            self._timeout_s = timeout_s

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Log in first if needed; the cookie jar does the rest."""
        session = self._bound_session()
        with self._lock:
            if self._logged_in:
                return r
            self._login(session)
        # requests built this request's Cookie header before calling auth, i.e. before
        # the login set the session cookie; rebuild it from the jar.
        r.headers.pop("Cookie", None)
        r.prepare_cookies(session.cookies)
        return r

    def session_expired(self, response: requests.Response) -> bool:
        """401/403, or redirected to a page whose path contains a logged-out marker."""
        if response.status_code in (401, 403):
            return True
        path = urlsplit(response.url).path.lower()
        return bool(response.history) and any(m in path for m in self.logged_out_markers)

    def on_unauthorized(self) -> bool:
        """Log in again on the same session."""
        session = self._bound_session()
        with self._lock:
            self._login(session)
        return True

    def _bound_session(self) -> requests.Session:
        if self._session is None:
            raise RuntimeError(
                "FormLoginSession keeps its cookie on the client's session; "
                "use it through RestClient(auth=...)"
            )
        return self._session

    def _check(self, response: requests.Response, what: str) -> None:
        if response.status_code >= 400:
            transient = response.status_code >= 500 or response.status_code == 429
            raise CredentialExchangeError(
                request=f"{response.request.method} {redact_url(response.url)}",
                status=response.status_code,
                reason=f"{what} failed",
                retryable=transient,
            )

    def _login(self, session: requests.Session) -> None:
        self._logged_in = False
        try:
            page = session.get(self.login_url, timeout=self._timeout_s)
            self._check(page, "login page")
            form = self._login_form(page.content)
            if form is None:
                raise CredentialExchangeError(
                    request=f"GET {redact_url(page.url)}",
                    status=page.status_code,
                    reason=f"no form with an input named {self.password_field!r}; "
                    "the vendor changed its login page",
                    retryable=False,
                )
            fields = {
                hidden["name"]: hidden.get("value", "")
                for hidden in form.find_all("input", attrs={"type": "hidden"})
                if hidden.get("name")
            }
            if self.csrf_field and self.csrf_field not in fields:
                raise CredentialExchangeError(
                    request=f"GET {redact_url(page.url)}",
                    status=page.status_code,
                    reason=f"login form has no hidden {self.csrf_field!r} input",
                    retryable=False,
                )
            fields[self.username_field] = self.username
            fields[self.password_field] = self._password
            action = urljoin(page.url, form.get("action") or page.url)
            result = session.post(action, data=fields, timeout=self._timeout_s)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise CredentialExchangeError(
                request=f"POST {redact_url(self.login_url)}",
                status=None,
                reason=type(exc).__name__,
                retryable=True,
            ) from None
        self._check(result, "login")
        # A rejected login re-renders the form; an accepted one does not.
        if self._login_form(result.content) is not None:
            raise CredentialExchangeError(
                request=f"POST {redact_url(action)}",
                status=result.status_code,
                reason="login rejected (the login form came back)",
                retryable=False,
            )
        self._logged_in = True

    def _login_form(self, html: bytes) -> Any:
        field = BeautifulSoup(html, "lxml").find("input", attrs={"name": self.password_field})
        return None if field is None else field.find_parent("form")
