"""Redaction of URLs, headers and log records."""

import logging

import pytest

from edassets.adapters.http import SecretFilter, redact_headers, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.example.org/v1/users?limit=100&api_key=abc123&offset=0",
            "https://api.example.org/v1/users?limit=100&api_key=***&offset=0",
        ),
        (
            "https://h/cb?code=xyz&state=s&access_token=t&client_secret=c&oauth_signature=sig%3D",
            "https://h/cb?code=***&state=s&access_token=***&client_secret=***&oauth_signature=***",
        ),
        (
            "https://bucket.s3.amazonaws.com/x.jsonl.gz?X-Amz-Credential=AK&X-Amz-Security-Token=T&X-Amz-Signature=S",
            "https://bucket.s3.amazonaws.com/x.jsonl.gz?X-Amz-Credential=AK&X-Amz-Security-Token=***&X-Amz-Signature=***",
        ),
        ("https://user:pw@lrs.example.org/xapi?x=1", "https://user:***@lrs.example.org/xapi?x=1"),
        # Page tokens are cursors, not credentials: kept for tracing archived pages.
        (
            "https://classroom.googleapis.com/v1/courses?pageToken=p2",
            "https://classroom.googleapis.com/v1/courses?pageToken=p2",
        ),
        ("/v3.0/users?starting_after=5f00&limit=2", "/v3.0/users?starting_after=5f00&limit=2"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_extra_params() -> None:
    assert redact_url("https://h/x?k=secret&q=1", extra_params=["k"]) == "https://h/x?k=***&q=1"


def test_redact_headers() -> None:
    headers = {
        "Authorization": "Bearer t",
        "Cookie": "sid=1",
        "Set-Cookie": "sid=2",
        "X-Api-Key": "k",
        "X-Vendor-Token": "v",
        "X-Client-Secret": "s",
        "Content-Type": "application/json",
        "X-Total-Count": "25",
        "Next-Page-Token": "cursor",
    }

    assert redact_headers(headers) == {
        "Authorization": "***",
        "Cookie": "***",
        "Set-Cookie": "***",
        "X-Api-Key": "***",
        "X-Vendor-Token": "***",
        "X-Client-Secret": "***",
        "Content-Type": "application/json",
        "X-Total-Count": "25",
        "Next-Page-Token": "cursor",
    }


def test_redact_text_shapes() -> None:
    text = (
        "Request headers were {'Authorization': 'Basic cm9zdGVyOnM=', 'Accept': 'application/json'} "
        'content {"access_token": "tok", "expires_in": 3600} body grant_type=client_credentials&client_secret=cs '
        'OAuth oauth_version="1.0", oauth_signature="sig%3D" Bearer abc.def'
    )

    redacted = redact_text(text)

    for secret in ("cm9zdGVyOnM=", '"tok"', "=cs", "sig%3D", "abc.def"):
        assert secret not in redacted
    for kept in (
        "'Accept': 'application/json'",
        '"expires_in": 3600',
        "grant_type=client_credentials",
        'oauth_version="1.0"',
    ):
        assert kept in redacted


def test_secret_filter_masks_known_values_in_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redaction.secret_filter")
    secret_filter = SecretFilter(["s3cr3t-value", "ab"])  # too-short values are ignored
    logger.addFilter(secret_filter)
    try:
        with caplog.at_level(logging.DEBUG, logger=logger.name):
            logger.debug("vendor said %s about tab", "s3cr3t-value")
            secret_filter.add(["later-token"])
            logger.info("got later-token")
    finally:
        logger.removeFilter(secret_filter)

    assert [r.getMessage() for r in caplog.records] == ["vendor said *** about tab", "got ***"]
