"""HTTP adapter toolkit: the declarative pieces a platform spec names for a REST source.

A platform module constructs these objects and nothing else; `RestClient` runs them.
Vocabulary follows dlt's REST source (client, auth, paginator, records path) and the error
taxonomy Airbyte's declarative CDK uses (retry, refresh-then-retry, ignore, fail).
"""

from edassets.adapters.http.auth import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    FormLoginSession,
    OAuth1Hmac,
    OAuth2ClientCredentials,
    OAuth2JwtAssertion,
)
from edassets.adapters.http.client import Page, RestClient
from edassets.adapters.http.errors import (
    AdapterError,
    AuthError,
    CredentialExchangeError,
    MalformedPayload,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from edassets.adapters.http.paginators import (
    BodyUrlPaginator,
    CursorPaginator,
    HeaderLinkPaginator,
    OffsetPaginator,
    PageFormatError,
    PageNumberPaginator,
    PageTokenPaginator,
    Paginator,
    PreparedRequestSpec,
    SinglePagePaginator,
)
from edassets.adapters.http.policy import (
    ErrorAction,
    RateLimit,
    RetryPolicy,
    default_error_actions,
)
from edassets.adapters.http.redaction import (
    SecretFilter,
    guard_library_loggers,
    redact_headers,
    redact_text,
    redact_url,
)

__all__ = [
    "AdapterError",
    "ApiKeyAuth",
    "Auth",
    "AuthError",
    "BasicAuth",
    "BearerAuth",
    "BodyUrlPaginator",
    "CredentialExchangeError",
    "CursorPaginator",
    "ErrorAction",
    "FormLoginSession",
    "HeaderLinkPaginator",
    "MalformedPayload",
    "OAuth1Hmac",
    "OAuth2ClientCredentials",
    "OAuth2JwtAssertion",
    "OffsetPaginator",
    "Page",
    "PageFormatError",
    "PageNumberPaginator",
    "PageTokenPaginator",
    "Paginator",
    "PreparedRequestSpec",
    "RateLimit",
    "RateLimited",
    "RequestRejected",
    "RestClient",
    "RetryPolicy",
    "SecretFilter",
    "SinglePagePaginator",
    "UpstreamUnavailable",
    "default_error_actions",
    "guard_library_loggers",
    "redact_headers",
    "redact_text",
    "redact_url",
]
