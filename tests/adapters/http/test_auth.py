"""Every auth scheme against a fake provider that checks credentials like the real ones.

Each test also runs under `leak_guard`: every log record at DEBUG (ours, urllib3's,
requests-oauthlib's) and every error message and repr it saw must be free of the secrets.
"""

import base64
import secrets
import threading
from http.cookies import SimpleCookie
from typing import Literal
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature

from edassets.adapters.http import (
    ApiKeyAuth,
    AuthError,
    BasicAuth,
    BearerAuth,
    FormLoginSession,
    OAuth1Hmac,
    OAuth2ClientCredentials,
    OAuth2JwtAssertion,
    OffsetPaginator,
    PageNumberPaginator,
    RestClient,
    RetryPolicy,
    UpstreamUnavailable,
)
from tests.adapters.http.conftest import LeakGuard
from tests.adapters.http.fake_server import (
    FakeRequest,
    FakeResponse,
    FakeServer,
    in_sequence,
    json_response,
)

ROWS = [{"sourcedId": f"u{i}"} for i in range(5)]
FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)
UNAUTHORIZED = json_response({"error": "invalid_token"}, status=401)


def secret(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def offset_page(request: FakeRequest, rows: list[dict] = ROWS) -> FakeResponse:
    offset, limit = request.int_arg("offset", 0), request.int_arg("limit", 100)
    return json_response(
        {"users": rows[offset : offset + limit]}, headers={"X-Total-Count": str(len(rows))}
    )


def all_ids(client: RestClient, path: str = "users") -> list[str]:
    return [
        r["sourcedId"] for page in client.paginate(path, records_path="users") for r in page.records
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- static credentials -------------------------------------------------------------------


def test_api_key_in_header(fake_server: FakeServer, leak_guard: LeakGuard) -> None:
    key = secret("ak")
    leak_guard.watch(key)

    def handler(request: FakeRequest) -> FakeResponse:
        return offset_page(request) if request.headers.get("X-Api-Key") == key else UNAUTHORIZED

    fake_server.route("GET", "/v1/users", handler)
    auth = ApiKeyAuth(key)
    client = RestClient(fake_server.url("/v1"), auth=auth, paginator=OffsetPaginator(limit=2))

    assert all_ids(client) == [r["sourcedId"] for r in ROWS]
    leak_guard.saw(repr(auth), repr(client))


def test_api_key_in_query_under_a_vendor_param_name(
    fake_server: FakeServer, leak_guard: LeakGuard
) -> None:
    key = secret("qk")
    leak_guard.watch(key)

    def handler(request: FakeRequest) -> FakeResponse:
        if "X-Api-Key" in request.headers:
            return json_response({"error": "key must not travel twice"}, status=400)
        return offset_page(request) if request.arg("k") == key else UNAUTHORIZED

    fake_server.route("GET", "/v1/users", handler)
    client = RestClient(fake_server.url("/v1"), auth=ApiKeyAuth(key, query_param="k"))

    (page,) = client.paginate("users", records_path="users")

    assert "k=***" in page.url  # "k" is no generic secret name: the auth declares it
    leak_guard.saw(page.url)


def test_wrong_api_key_is_auth_error_without_the_key(
    fake_server: FakeServer, leak_guard: LeakGuard
) -> None:
    key = secret("bad")
    leak_guard.watch(key)
    route = fake_server.route("GET", "/v1/users", UNAUTHORIZED)
    client = RestClient(
        fake_server.url("/v1"),
        auth=ApiKeyAuth(key, query_param="api_key"),
        platform="p",
        district="d",
    )

    with pytest.raises(AuthError) as caught:
        client.get("users")

    assert route.calls == 1  # a static key cannot be refreshed
    assert str(caught.value).startswith(
        f"p/d: GET {fake_server.url('/v1/users')} → 401: credentials rejected"
    )
    leak_guard.saw(caught.value)


def test_bearer_token(fake_server: FakeServer, leak_guard: LeakGuard) -> None:
    token = secret("clever")
    leak_guard.watch(token)

    def handler(request: FakeRequest) -> FakeResponse:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return UNAUTHORIZED
        return json_response(
            {"data": [{"data": {"id": "d1"}, "uri": "/v3.0/districts/d1"}], "links": []}
        )

    fake_server.route("GET", "/v3.0/districts", handler)
    auth = BearerAuth(token)
    client = RestClient(fake_server.url("/v3.0"), auth=auth)

    (page,) = client.paginate("districts", records_path="data")

    assert page.records[0]["data"]["id"] == "d1"
    leak_guard.saw(repr(auth), page.headers)


def test_basic_auth(fake_server: FakeServer, leak_guard: LeakGuard) -> None:
    password = secret("lrs")
    leak_guard.watch(password, basic("lrs-key", password).split()[1])

    def handler(request: FakeRequest) -> FakeResponse:
        if request.headers.get("Authorization") != basic("lrs-key", password):
            return UNAUTHORIZED
        return json_response({"statements": [{"id": "s1"}], "more": ""})

    fake_server.route("GET", "/xapi/statements", handler)
    auth = BasicAuth("lrs-key", password)
    client = RestClient(fake_server.url("/xapi"), auth=auth)

    (page,) = client.paginate("statements", records_path="statements")

    assert page.records == [{"id": "s1"}]
    leak_guard.saw(repr(auth))


# --- OAuth 2 client credentials -------------------------------------------------------------


class TokenEndpoint:
    """An OAuth 2 token endpoint and the API it protects."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        expires_in: int = 3600,
        scope: str | None = None,
    ):
        self.client_id, self.client_secret = client_id, client_secret
        self.expires_in, self.scope = expires_in, scope
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        by_header = request.headers.get("Authorization") == basic(
            self.client_id, self.client_secret
        )
        by_body = (
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
        )
        if form.get("grant_type") != "client_credentials" or not (by_header or by_body):
            return json_response({"error": "invalid_client"}, status=401)
        with self.lock:
            token = secret(f"at{len(self.issued)}")
            self.issued.append(token)
            self.valid.add(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        if self.scope is not None:
            body["scope"] = self.scope
        return json_response(body)

    def api(self, request: FakeRequest) -> FakeResponse:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.seen.append(presented)
        return offset_page(request) if presented in self.valid else UNAUTHORIZED


@pytest.fixture
def oauth_server(
    fake_server: FakeServer, insecure_oauth_transport: None, leak_guard: LeakGuard
) -> TokenEndpoint:
    endpoint = TokenEndpoint("roster-client", secret("cs"))
    leak_guard.watch(
        endpoint.client_secret, basic(endpoint.client_id, endpoint.client_secret).split()[1]
    )
    fake_server.route("POST", "/oauth/token", endpoint.token)
    return endpoint


def watch_tokens(guard: LeakGuard, endpoint: TokenEndpoint) -> None:
    guard.watch(*endpoint.issued)


@pytest.mark.parametrize("client_auth", ["basic", "body"])
def test_client_credentials(
    fake_server: FakeServer,
    oauth_server: TokenEndpoint,
    leak_guard: LeakGuard,
    client_auth: Literal["basic", "body"],
) -> None:
    fake_server.route("GET", "/ims/oneroster/rostering/v1p2/users", oauth_server.api)
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"),
        oauth_server.client_id,
        oauth_server.client_secret,
        scope="https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",
        client_auth=client_auth,
    )
    client = RestClient(
        fake_server.url("/ims/oneroster/rostering/v1p2"),
        auth=auth,
        paginator=OffsetPaginator(limit=2),
    )

    assert all_ids(client) == [r["sourcedId"] for r in ROWS]
    assert fake_server.calls("POST", "/oauth/token") == 1  # cached across the three pages
    watch_tokens(leak_guard, oauth_server)
    leak_guard.saw(repr(auth))


def test_401_mid_pagination_refreshes_the_token_exactly_once(
    fake_server: FakeServer, oauth_server: TokenEndpoint, leak_guard: LeakGuard
) -> None:
    def api(request: FakeRequest) -> FakeResponse:
        response = oauth_server.api(request)
        if request.arg("offset") == "0":
            oauth_server.valid.clear()  # the vendor expires the token early, mid-run
        return response

    route = fake_server.route("GET", "/users", api)
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"), oauth_server.client_id, oauth_server.client_secret
    )
    client = RestClient(fake_server.base_url, auth=auth, paginator=OffsetPaginator(limit=2))

    assert all_ids(client) == [r["sourcedId"] for r in ROWS]
    assert fake_server.calls("POST", "/oauth/token") == 2
    assert route.calls == 4  # pages 0, 1 (401), 1 again, 2
    first, second = oauth_server.issued
    assert oauth_server.seen == [first, first, second, second]
    watch_tokens(leak_guard, oauth_server)


def test_token_is_refreshed_before_it_expires(
    fake_server: FakeServer, oauth_server: TokenEndpoint, leak_guard: LeakGuard
) -> None:
    oauth_server.expires_in = 120
    fake_server.route("GET", "/users", oauth_server.api)
    clock = FakeClock()
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"),
        oauth_server.client_id,
        oauth_server.client_secret,
        refresh_margin_s=60,
        clock=clock,
    )
    client = RestClient(fake_server.base_url, auth=auth)

    client.get("users")
    clock.now += 59
    client.get("users")
    clock.now += 2  # 61 s in: within the 60 s margin of the 120 s lifetime
    client.get("users")

    first, second = oauth_server.issued
    assert oauth_server.seen == [first, first, second]  # no 401 was needed
    watch_tokens(leak_guard, oauth_server)


def test_short_lived_token_is_not_refetched_on_every_request(
    fake_server: FakeServer, oauth_server: TokenEndpoint, leak_guard: LeakGuard
) -> None:
    oauth_server.expires_in = 60  # as long as the margin: refresh at half-life instead
    fake_server.route("GET", "/users", oauth_server.api)
    clock = FakeClock()
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"),
        oauth_server.client_id,
        oauth_server.client_secret,
        clock=clock,
    )
    client = RestClient(fake_server.base_url, auth=auth)

    client.get("users")
    clock.now += 29
    client.get("users")
    clock.now += 2
    client.get("users")

    assert fake_server.calls("POST", "/oauth/token") == 2
    watch_tokens(leak_guard, oauth_server)


def test_persistent_401_after_refresh_is_auth_error(
    fake_server: FakeServer, oauth_server: TokenEndpoint, leak_guard: LeakGuard
) -> None:
    fake_server.route("GET", "/users", UNAUTHORIZED)
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"), oauth_server.client_id, oauth_server.client_secret
    )
    client = RestClient(fake_server.base_url, auth=auth, platform="oneroster", district="d9")

    with pytest.raises(
        AuthError, match="→ 401 after refreshing credentials: credentials rejected"
    ) as caught:
        client.get("users")

    assert fake_server.calls("POST", "/oauth/token") == 2
    assert fake_server.calls("GET", "/users") == 2
    watch_tokens(leak_guard, oauth_server)
    leak_guard.saw(caught.value)


def test_rejected_client_secret_names_the_token_endpoint(
    fake_server: FakeServer, oauth_server: TokenEndpoint, leak_guard: LeakGuard
) -> None:
    fake_server.route("GET", "/users", oauth_server.api, expected=False)
    wrong = secret("wrong")
    leak_guard.watch(wrong)
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"), oauth_server.client_id, wrong, client_auth="body"
    )
    client = RestClient(fake_server.base_url, auth=auth, platform="edfi", district="d2", retry=FAST)

    with pytest.raises(AuthError) as caught:
        client.get("users")

    assert fake_server.calls("POST", "/oauth/token") == 1  # a refusal is not retried
    assert (
        f"→ 401 from POST {fake_server.url('/oauth/token')}: token endpoint refused (invalid_client)"
        in str(caught.value)
    )
    leak_guard.saw(caught.value)


def test_token_endpoint_outage_is_retried_then_upstream_unavailable(
    fake_server: FakeServer, insecure_oauth_transport: None, leak_guard: LeakGuard
) -> None:
    client_secret = secret("cs")
    leak_guard.watch(client_secret)
    fake_server.route("POST", "/oauth/token", FakeResponse(503, b"<html>down</html>"))
    auth = OAuth2ClientCredentials(fake_server.url("/oauth/token"), "id", client_secret)
    client = RestClient(fake_server.base_url, auth=auth, retry=FAST)

    with pytest.raises(
        UpstreamUnavailable, match=r"→ 503 from POST .*/oauth/token after 3 attempts"
    ) as caught:
        client.get("users")

    assert fake_server.calls("POST", "/oauth/token") == 3
    leak_guard.saw(caught.value)


def test_narrowed_scope_in_token_response_is_accepted(
    fake_server: FakeServer, oauth_server: TokenEndpoint, leak_guard: LeakGuard
) -> None:
    oauth_server.scope = "roster-core.readonly"  # asked for two, granted one (RFC 6749 §3.3)
    fake_server.route("GET", "/users", oauth_server.api)
    auth = OAuth2ClientCredentials(
        fake_server.url("/oauth/token"),
        oauth_server.client_id,
        oauth_server.client_secret,
        scope="roster-core.readonly roster-demographics.readonly",
    )

    assert RestClient(fake_server.base_url, auth=auth).get("users").status_code == 200
    watch_tokens(leak_guard, oauth_server)


# --- OAuth 1 ------------------------------------------------------------------------------


def oauth1_verifier(consumer_key: str, consumer_secret: str, method: str):
    """Server-side check with oauthlib's own signature helpers (RFC 5849 §3.4)."""

    def handler(request: FakeRequest) -> FakeResponse:
        headers = {"Authorization": request.headers.get("Authorization", "")}
        query = urlsplit(request.url).query
        with_signature = dict(
            signature.collect_parameters(headers=headers, exclude_oauth_signature=False)
        )
        if (
            with_signature.get("oauth_consumer_key") != consumer_key
            or with_signature.get("oauth_signature_method") != method
            or "oauth_token" in with_signature  # one-legged: no token
        ):
            return UNAUTHORIZED
        oauth_request = OAuthRequest(request.url, http_method=request.method, headers=headers)
        oauth_request.params = signature.collect_parameters(uri_query=query, headers=headers)
        oauth_request.signature = with_signature["oauth_signature"]
        verify = (
            signature.verify_hmac_sha256 if method == "HMAC-SHA256" else signature.verify_hmac_sha1
        )
        return (
            offset_page(request)
            if verify(oauth_request, client_secret=consumer_secret)
            else UNAUTHORIZED
        )

    return handler


@pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
def test_oauth1_signature_verified_server_side(
    fake_server: FakeServer, leak_guard: LeakGuard, method: Literal["HMAC-SHA256", "HMAC-SHA1"]
) -> None:
    consumer_secret = secret("ocs")
    leak_guard.watch(consumer_secret)
    route = fake_server.route(
        "GET", "/ims/oneroster/v1p1/users", oauth1_verifier("ck", consumer_secret, method)
    )
    auth = OAuth1Hmac("ck", consumer_secret, signature_method=method)
    client = RestClient(
        fake_server.url("/ims/oneroster/v1p1"), auth=auth, paginator=OffsetPaginator(limit=2)
    )

    # The filter's quotes and spaces must be signed exactly as sent.
    pages = list(
        client.paginate(
            "users", params={"filter": "dateLastModified>'2024-01-01'"}, records_path="users"
        )
    )

    assert [r["sourcedId"] for p in pages for r in p.records] == [r["sourcedId"] for r in ROWS]
    assert route.calls == 3
    leak_guard.saw(repr(auth))


def test_oauth1_wrong_secret_is_auth_error(fake_server: FakeServer, leak_guard: LeakGuard) -> None:
    wrong = secret("ocs")
    leak_guard.watch(wrong)
    fake_server.route("GET", "/users", oauth1_verifier("ck", "the-real-secret", "HMAC-SHA256"))
    client = RestClient(fake_server.base_url, auth=OAuth1Hmac("ck", wrong))

    with pytest.raises(AuthError) as caught:
        client.get("users")
    leak_guard.saw(caught.value)


# --- OAuth 2 with a JWT client assertion (LTI Advantage) ----------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_jwt_client_assertion_verified_with_the_public_key(
    fake_server: FakeServer,
    insecure_oauth_transport: None,
    leak_guard: LeakGuard,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    token_url = fake_server.url("/login/oauth2/token")
    scope = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
    issued: list[str] = []
    assertions: list[dict] = []

    def token(request: FakeRequest) -> FakeResponse:
        form = request.form()
        if "Authorization" in request.headers or form.get("grant_type") != "client_credentials":
            return json_response({"error": "invalid_request"}, status=400)
        if (
            form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return json_response({"error": "invalid_client"}, status=401)
        try:
            claims = jwt.decode(
                form["client_assertion"],
                rsa_key.public_key(),
                algorithms=["RS256"],
                audience=token_url,
                issuer="tool-123",
                options={"require": ["exp", "iat", "jti", "sub"]},
            )
        except jwt.InvalidTokenError:
            return json_response({"error": "invalid_client"}, status=401)
        assertions.append(
            {**claims, "kid": jwt.get_unverified_header(form["client_assertion"]).get("kid")}
        )
        if claims["sub"] != "tool-123" or form.get("scope") != scope:
            return json_response({"error": "invalid_scope"}, status=400)
        issued.append(secret("lti"))
        return json_response(
            {"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        )

    def line_items(request: FakeRequest) -> FakeResponse:
        if request.headers.get("Authorization") != f"Bearer {issued[-1]}":
            return UNAUTHORIZED
        return json_response(
            [{"id": fake_server.url("/api/lti/courses/1/line_items/7"), "scoreMaximum": 10}]
        )

    fake_server.route("POST", "/login/oauth2/token", token)
    fake_server.route("GET", "/api/lti/courses/1/line_items", line_items)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    auth = OAuth2JwtAssertion(token_url, "tool-123", pem, key_id="k1", scope=scope)
    client = RestClient(fake_server.url("/api/lti"), auth=auth)

    (page,) = client.paginate("courses/1/line_items", records_path="")

    assert page.records[0]["scoreMaximum"] == 10
    (claims,) = assertions
    assert claims["exp"] - claims["iat"] == 300
    assert claims["kid"] == "k1"
    leak_guard.watch(*issued, pem.splitlines()[1])
    leak_guard.saw(repr(auth))


# --- form login with CSRF ------------------------------------------------------------------


class Dashboard:
    """A vendor dashboard: CSRF-protected login form, cookie session, JSON report."""

    LOGIN_PAGE = """<html><body>
      <form method="post" action="/session">
        <input type="hidden" name="csrf_token" value="{csrf}">
        <input type="hidden" name="return_to" value="/reports">
        <input name="username"><input type="password" name="password">
      </form></body></html>"""

    def __init__(self, password: str) -> None:
        self.password = password
        self.sessions: set[str] = set()
        self.logins = 0

    @staticmethod
    def cookies(request: FakeRequest) -> dict[str, str]:
        jar = SimpleCookie(request.headers.get("Cookie", ""))
        return {name: morsel.value for name, morsel in jar.items()}

    def login_page(self, request: FakeRequest) -> FakeResponse:
        csrf = secrets.token_hex(8)
        # The CSRF token is bound to a pre-session cookie: a login posted from another
        # session (a fresh requests.Session) fails.
        return FakeResponse(
            200, self.LOGIN_PAGE.format(csrf=csrf), {"Set-Cookie": f"pre={csrf}; Path=/"}
        )

    def session(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        csrf_ok = form.get("csrf_token") and form.get("csrf_token") == self.cookies(request).get(
            "pre"
        )
        if not csrf_ok or form.get("return_to") != "/reports":
            return FakeResponse(403, "<p>CSRF check failed</p>")
        if form.get("username") != "teacher@district.org" or form.get("password") != self.password:
            return self.login_page(request)  # re-rendered form = rejected
        sid = secrets.token_hex(8)
        self.sessions.add(sid)
        self.logins += 1
        return FakeResponse(
            303, b"", {"Location": "/home", "Set-Cookie": f"sid={sid}; Path=/; HttpOnly"}
        )

    def report(self, request: FakeRequest) -> FakeResponse:
        if self.cookies(request).get("sid") not in self.sessions:
            return FakeResponse(302, b"", {"Location": "/login?next=/reports/usage"})
        page = request.int_arg("page", 1)
        if page == 1:
            self.sessions.clear()  # the session expires between pages
        rows = ROWS[(page - 1) * 2 : page * 2]
        return json_response({"students": rows, "total_pages": 3})


@pytest.fixture
def dashboard(fake_server: FakeServer, leak_guard: LeakGuard) -> Dashboard:
    site = Dashboard(secret("pw"))
    leak_guard.watch(site.password)
    fake_server.route("GET", "/login", site.login_page)
    fake_server.route("POST", "/session", site.session)
    fake_server.route("GET", "/home", FakeResponse(200, "<p>Welcome</p>"), expected=False)
    return site


def test_form_login_keeps_the_cookie_and_logs_in_again_after_expiry(
    fake_server: FakeServer, dashboard: Dashboard, leak_guard: LeakGuard
) -> None:
    route = fake_server.route("GET", "/reports/usage", dashboard.report)
    auth = FormLoginSession(fake_server.url("/login"), "teacher@district.org", dashboard.password)
    client = RestClient(
        fake_server.base_url, auth=auth, paginator=PageNumberPaginator(size=2, size_param=None)
    )

    pages = list(client.paginate("reports/usage", records_path="students"))

    assert [r["sourcedId"] for p in pages for r in p.records] == [r["sourcedId"] for r in ROWS]
    assert dashboard.logins == 2  # first request, then once after the expiry redirect
    assert route.calls == 4  # page 1, page 2 → redirected to /login, page 2 again, page 3
    leak_guard.saw(repr(auth))


def test_form_login_with_wrong_password_is_auth_error(
    fake_server: FakeServer, dashboard: Dashboard, leak_guard: LeakGuard
) -> None:
    fake_server.route("GET", "/reports/usage", dashboard.report, expected=False)
    wrong = secret("wrongpw")
    leak_guard.watch(wrong)
    auth = FormLoginSession(fake_server.url("/login"), "teacher@district.org", wrong)
    client = RestClient(fake_server.base_url, auth=auth, platform="dashboard", district="d3")

    with pytest.raises(AuthError, match="login rejected") as caught:
        client.get("reports/usage")

    assert dashboard.logins == 0
    leak_guard.saw(caught.value)


def test_form_login_without_csrf_input_says_the_page_changed(
    fake_server: FakeServer, leak_guard: LeakGuard
) -> None:
    password = secret("pw")
    leak_guard.watch(password)
    fake_server.route(
        "GET", "/login", FakeResponse(200, '<form><input type="password" name="password"></form>')
    )
    auth = FormLoginSession(fake_server.url("/login"), "u", password)
    client = RestClient(fake_server.base_url, auth=auth)

    with pytest.raises(AuthError, match="login form has no hidden 'csrf_token' input") as caught:
        client.get("reports")
    leak_guard.saw(caught.value)


def test_form_login_needs_the_clients_session() -> None:
    with pytest.raises(RuntimeError, match="use it through RestClient"):
        requests.Request(
            "GET", "http://127.0.0.1/", auth=FormLoginSession("http://127.0.0.1/login", "u", "p")
        ).prepare()


def test_login_outage_is_retried(
    fake_server: FakeServer, dashboard: Dashboard, leak_guard: LeakGuard
) -> None:
    login_page = FakeResponse(
        200, Dashboard.LOGIN_PAGE.format(csrf="x"), {"Set-Cookie": "pre=x; Path=/"}
    )
    fake_server.route(
        "GET", "/login", in_sequence(FakeResponse(502), login_page)
    )  # replaces the route
    fake_server.route("GET", "/reports/usage", json_response({"students": []}))
    auth = FormLoginSession(fake_server.url("/login"), "teacher@district.org", dashboard.password)

    response = RestClient(fake_server.base_url, auth=auth, retry=FAST).get("reports/usage")

    assert response.status_code == 200
    assert fake_server.calls("GET", "/login") == 2
