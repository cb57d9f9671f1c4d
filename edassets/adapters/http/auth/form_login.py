"""A cookie session from an HTML login form, for vendor dashboards that have no API."""

import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from bs4 import BeautifulSoup

from edassets.adapters.http.auth.base import Auth
from edassets.adapters.http.errors import CredentialExchangeError
from edassets.adapters.http.redaction import redact_url


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
