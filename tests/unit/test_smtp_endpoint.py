"""Building the SMTP endpoint from a mailbox's [smtp] table: which login goes with which keys."""

from datetime import UTC, datetime

import pytest

from maild.config import Secret
from maild.config.settings import SmtpSettings
from maild.oauth import BearerToken
from maild.outbound.smtp import SmtpEndpoint, endpoint_for

HOST = "smtp.example.com"
USER = "support@shop.example"


def tokens() -> BearerToken:
    return BearerToken("shop", "token_env", "SHOP_TOKEN", lambda: datetime.now(UTC))


def test_a_password_table_gives_a_password_login() -> None:
    settings = SmtpSettings(host=HOST, port=587, username=USER, password=Secret("pw-1234"))

    endpoint = endpoint_for(settings)

    assert (endpoint.host, endpoint.port, endpoint.security, endpoint.tls_verify) == (
        HOST,
        587,
        "starttls",
        True,
    )
    assert (endpoint.username, endpoint.password, endpoint.tokens) == (
        USER,
        Secret("pw-1234"),
        None,
    )


def test_a_table_without_a_login_gives_a_relay_endpoint() -> None:
    endpoint = endpoint_for(SmtpSettings(host="127.0.0.1", port=25, security="none"))

    assert (endpoint.port, endpoint.username, endpoint.password, endpoint.tokens) == (
        25,
        None,
        None,
        None,
    )


def test_an_xoauth2_table_logs_in_with_the_token_provider_it_is_given() -> None:
    provider = tokens()
    settings = SmtpSettings(host=HOST, port=465, security="tls", username=USER, auth="xoauth2")

    endpoint = endpoint_for(settings, provider)

    assert (endpoint.port, endpoint.tokens, endpoint.password) == (465, provider, None)


def test_tokens_are_refused_for_a_password_table_and_required_for_an_xoauth2_one() -> None:
    with pytest.raises(ValueError, match="tokens go with auth"):
        endpoint_for(
            SmtpSettings(host=HOST, port=587, username=USER, password=Secret("pw")), tokens()
        )
    with pytest.raises(ValueError, match="tokens go with auth"):
        endpoint_for(SmtpSettings(host=HOST, port=587, username=USER, auth="xoauth2"))


@pytest.mark.parametrize(
    ("username", "password", "with_tokens"),
    [
        (USER, None, False),
        (None, Secret("pw"), False),
        (None, None, True),
        (USER, Secret("pw"), True),
    ],
    ids=["username-alone", "password-alone", "tokens-alone", "password-and-tokens"],
)
def test_an_endpoint_with_half_a_login_or_two_logins_is_refused(
    username: str | None, password: Secret | None, with_tokens: bool
) -> None:
    with pytest.raises(ValueError, match="smtp://"):
        SmtpEndpoint(
            HOST,
            587,
            "starttls",
            True,
            username=username,
            password=password,
            tokens=tokens() if with_tokens else None,
        )


def test_the_endpoint_shows_where_it_sends_and_never_the_password() -> None:
    endpoint = SmtpEndpoint(HOST, 587, "starttls", True, username=USER, password=Secret("pw-1234"))

    assert endpoint.describe() == f"smtp://{USER}@{HOST}:587"
    assert "pw-1234" not in repr(endpoint)
