"""The base of every auth scheme: a requests `AuthBase` plus the three hooks `RestClient` calls.

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

import requests
from requests.auth import AuthBase


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
