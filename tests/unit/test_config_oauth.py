"""maild.toml's XOAUTH2 keys: which go together, where secrets come from, what is refused."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from maild.cli import main
from maild.config import Secret, Settings, load_config
from maild.errors import ConfigError, ConfigProblem

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "maild.example.toml"
RECOGNISABLE = "Zebra-Kumquat-4711-secret"
TOKEN_URL = "https://oauth2.googleapis.com/token"

# Ends with [mailboxes.shop.imap] on line 4, so tests append keys to it.
BASE = """\
[mailboxes.shop]
address = "support@shop.example"

[mailboxes.shop.imap]
host = "imap.gmail.com"
username = "support@shop.example"
auth = "xoauth2"
"""
IMAP_LINE = 4
REFRESH_FLOW = f"""\
token_url = "{TOKEN_URL}"
client_id = "maild-client"
client_secret_env = "MAILD_CLIENT_SECRET"
refresh_token_file = "shop.refresh-token"
"""
ENV = {"MAILD_CLIENT_SECRET": "cs-shop-0001", "MAILD_SHOP_TOKEN": "at-shop-0001"}


def load(directory: Path, text: str, environ: Mapping[str, str] = ENV) -> Settings:
    path = directory / "maild.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path, environ)


def problems_of(
    directory: Path, text: str, environ: Mapping[str, str] = ENV
) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load(directory, text, environ)
    return caught.value.problems


def only_problem(directory: Path, text: str, environ: Mapping[str, str] = ENV) -> ConfigProblem:
    problems = problems_of(directory, text, environ)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture
def refresh_token(tmp_path: Path) -> Path:
    path = tmp_path / "shop.refresh-token"
    path.write_text("rt-shop-0001\n")
    return path


def test_refresh_flow_loads_with_its_secrets_resolved_and_its_file_made_absolute(
    tmp_path: Path, refresh_token: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    settings = load(tmp_path, BASE + REFRESH_FLOW + 'scope = "https://mail.google.com/"\n')
    imap = settings.mailboxes["shop"].imap

    assert imap.auth == "xoauth2"
    assert imap.password is None
    assert imap.token_url == TOKEN_URL
    assert imap.client_secret == Secret("cs-shop-0001")
    assert imap.refresh_token == Secret("rt-shop-0001")
    assert imap.refresh_token_file == str(refresh_token)
    assert imap.scope == "https://mail.google.com/"
    assert set(imap.secrets()) == {Secret("cs-shop-0001"), Secret("rt-shop-0001")}


@pytest.mark.parametrize(
    ("key", "reference"),
    [("token_env", "MAILD_SHOP_TOKEN"), ("token_file", "shop.token")],
    ids=["variable", "file"],
)
def test_bearer_token_source_loads_and_is_kept_to_be_read_again(
    tmp_path: Path, key: str, reference: str
) -> None:
    (tmp_path / "shop.token").write_text("at-shop-0001\n")

    imap = load(tmp_path, BASE + f'{key} = "{reference}"\n').mailboxes["shop"].imap

    assert imap.token == Secret("at-shop-0001")
    expected = str(tmp_path / reference) if key == "token_file" else reference
    assert imap.token_source == (key, expected)


def test_smtp_takes_the_same_keys_and_needs_a_username(tmp_path: Path, refresh_token: Path) -> None:
    smtp = '[mailboxes.shop.smtp]\nhost = "smtp.gmail.com"\nauth = "xoauth2"\n' + REFRESH_FLOW
    text = BASE + 'token_env = "MAILD_SHOP_TOKEN"\n' + smtp

    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line) == ("mailboxes.shop.smtp.username", 9)
    assert problem.message == "missing required key 'username' (XOAUTH2 logs in as a user)"
    settings = load(tmp_path, text + 'username = "support@shop.example"\n')
    assert settings.mailboxes["shop"].smtp is not None


@pytest.mark.parametrize(
    ("keys", "path", "message"),
    [
        (
            "",
            "mailboxes.shop.imap",
            'auth = "xoauth2" needs an access token: either token_env, token_file or'
            " token_credential (kept fresh by another program), or token_url, client_id"
            " and refresh_token_file (maild refreshes it)",
        ),
        (
            'token_env = "MAILD_SHOP_TOKEN"\n' + REFRESH_FLOW,
            "mailboxes.shop.imap.token_url",
            "give either a token source (token_env, token_file or token_credential) or the"
            " refresh-token flow (token_url, client_id, refresh_token_file), not both",
        ),
        (
            'token_env = "MAILD_SHOP_TOKEN"\ntoken_file = "x"\n',
            "mailboxes.shop.imap.token_file",
            "give only one of token_env, token_file",
        ),
        (
            REFRESH_FLOW.replace('client_id = "maild-client"\n', ""),
            "mailboxes.shop.imap",
            "the refresh-token flow needs token_url, client_id and refresh_token_file;"
            " missing: client_id",
        ),
        (
            'token_env = "MAILD_SHOP_TOKEN"\npassword_env = "MAILD_SHOP_TOKEN"\n',
            "mailboxes.shop.imap.password_env",
            'auth = "xoauth2" logs in with an access token, not a password: remove it',
        ),
        (
            REFRESH_FLOW.replace("refresh_token_file", "refresh_token_env"),
            "mailboxes.shop.imap",
            "the refresh-token flow needs token_url, client_id and refresh_token_file;"
            " missing: refresh_token_file",
        ),
    ],
    ids=[
        "no-token",
        "token-and-flow",
        "two-token-sources",
        "flow-without-client",
        "password-too",
        "refresh-token-not-in-a-file",
    ],
)
def test_xoauth2_key_combinations_are_checked_with_a_clear_message(
    tmp_path: Path, refresh_token: Path, keys: str, path: str, message: str
) -> None:
    problems = problems_of(tmp_path, BASE + keys)

    assert (problems[0].path, problems[0].message) == (path, message)


def test_refresh_token_must_be_a_file_maild_can_rewrite(
    tmp_path: Path, refresh_token: Path
) -> None:
    text = BASE + REFRESH_FLOW + 'refresh_token_credential = "shop"\n'

    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line) == ("mailboxes.shop.imap.refresh_token_credential", 12)
    assert problem.message.startswith("maild writes the refresh token back when the provider")


def test_oauth2_keys_are_refused_for_a_password_login(tmp_path: Path) -> None:
    text = BASE.replace('auth = "xoauth2"', 'password_env = "MAILD_SHOP_TOKEN"') + (
        'token_url = "https://example.com/token"\n'
    )

    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line) == ("mailboxes.shop.imap.token_url", 8)
    assert problem.message == 'only used with auth = "xoauth2"'


def test_unknown_auth_suggests_the_closest_one(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, BASE.replace('"xoauth2"', '"oauth2"'))

    assert problem.path == "mailboxes.shop.imap.auth"
    assert problem.message == (
        "expected one of 'password', 'xoauth2', got string 'oauth2' (did you mean 'xoauth2'?)"
    )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://oauth.example.com/token", "use https: a token request carries the refresh"),
        (f"https://maild:{RECOGNISABLE}@oauth.example.com/token", "must not contain credentials"),
        ("oauth2.googleapis.com/token", "expected an http(s) URL"),
        ("https://[::1/token", "expected an http(s) URL"),
    ],
    ids=["plain-http", "credentials", "no-scheme", "malformed"],
)
def test_unusable_token_url_is_refused_without_echoing_it(
    tmp_path: Path, refresh_token: Path, url: str, words: str
) -> None:
    problem = only_problem(tmp_path, BASE + REFRESH_FLOW.replace(TOKEN_URL, url))

    assert (problem.path, problem.line) == ("mailboxes.shop.imap.token_url", 8)
    assert words in problem.message
    assert RECOGNISABLE not in problem.message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_token_url_is_allowed_on_loopback(
    tmp_path: Path, refresh_token: Path, host: str
) -> None:
    url = f"http://{host}:8080/token"
    settings = load(tmp_path, BASE + REFRESH_FLOW.replace(TOKEN_URL, url))
    assert settings.mailboxes["shop"].imap.token_url == url


@pytest.mark.parametrize("slot", ["token", "client_secret", "refresh_token"])
def test_literal_oauth2_secret_is_refused_without_echoing_it(
    tmp_path: Path, refresh_token: Path, slot: str
) -> None:
    problem = only_problem(tmp_path, BASE + REFRESH_FLOW + f'{slot} = "{RECOGNISABLE}"\n')

    assert (problem.path, problem.line) == (f"mailboxes.shop.imap.{slot}", 12)
    assert "is never written in the config file" in problem.message
    assert RECOGNISABLE not in str(problem)


def test_unreadable_refresh_token_file_is_reported_by_its_path(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, BASE + REFRESH_FLOW)

    assert (problem.path, problem.line) == ("mailboxes.shop.imap.refresh_token_file", 11)
    assert problem.message.startswith(
        f"cannot read refresh token file {tmp_path / 'shop.refresh-token'}: "
    )


def test_unencrypted_xoauth2_login_is_warned_about(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE + 'security = "none"\ntoken_env = "MAILD_SHOP_TOKEN"\n')

    assert settings.warnings() == [
        'mailboxes.shop.imap: security = "none" sends the access token unencrypted'
    ]


def test_the_commented_xoauth2_mailbox_of_the_example_loads_when_uncommented(
    tmp_path: Path,
) -> None:
    example = EXAMPLE.read_text(encoding="utf-8")
    block = example[example.index("# [mailboxes.gmail-shop]\n") :]
    text = "\n".join(line.removeprefix("#").removeprefix(" ") for line in block.splitlines())
    for directory in ("/etc/maild/", "/var/lib/maild/"):
        text = text.replace(directory, f"{tmp_path}/")
    (tmp_path / "gmail-shop.client-secret").write_text("cs-shop-0001\n")
    (tmp_path / "gmail-shop.refresh-token").write_text("rt-shop-0001\n")

    imap = load(tmp_path, text, {}).mailboxes["gmail-shop"].imap

    assert (imap.auth, imap.token_url, imap.scope) == (
        "xoauth2",
        TOKEN_URL,
        "https://mail.google.com/",
    )


def test_every_oauth2_secret_is_registered_with_the_log_redactor(
    tmp_path: Path,
    refresh_token: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    smtp = '[mailboxes.shop.smtp]\nhost = "smtp.gmail.com"\nusername = "u"\nauth = "xoauth2"\n'
    path = tmp_path / "maild.toml"
    path.write_text(BASE + 'token_env = "MAILD_SHOP_TOKEN"\n' + smtp + REFRESH_FLOW)
    assert main(["--config", str(path), "check-config"]) == 0

    logging.getLogger("maild.test").warning("echoed: %s", " ".join(ENV.values()))
    logging.getLogger("maild.test").warning("echoed: %s", refresh_token.read_text())

    err = capsys.readouterr().err
    for secret in (*ENV.values(), "rt-shop-0001"):
        assert secret not in err
    assert err.count("********") == 3
