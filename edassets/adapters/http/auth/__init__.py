"""Auth schemes a platform spec names (see `base` for the hooks `RestClient` calls).

`signing`: a fixed credential or a signature on every request (API key, bearer, Basic,
OAuth 1); `tokens`: OAuth 2 client credentials, a token fetched, cached and refreshed;
`form_login`: a cookie session from an HTML login form.
"""

from edassets.adapters.http.auth.base import Auth
from edassets.adapters.http.auth.form_login import FormLoginSession
from edassets.adapters.http.auth.signing import ApiKeyAuth, BasicAuth, BearerAuth, OAuth1Hmac
from edassets.adapters.http.auth.tokens import OAuth2ClientCredentials, OAuth2JwtAssertion

__all__ = [
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "FormLoginSession",
    "OAuth1Hmac",
    "OAuth2ClientCredentials",
    "OAuth2JwtAssertion",
]
