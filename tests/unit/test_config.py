"""maild.toml loading: every problem at once, located, and never a secret in sight."""

from __future__ import annotations

import pickle
import textwrap
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from maild.config import ImapSettings, Secret, Settings, load_config
from maild.config.locate import Loc, key_lines, line_of
from maild.errors import ConfigError, ConfigProblem

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "maild.example.toml"
EXAMPLE_ENV = {"MAILD_WALMART_US_PASSWORD": "example-1", "MAILD_AMAZON_EU_PASSWORD": "example-2"}

# A valid file whose last table is [mailboxes.shop.imap], so tests can append keys to it.
BASE = """\
[mailboxes.shop]
address = "support@shop.example"

[mailboxes.shop.imap]
host = "imap.example.com"
username = "support@shop.example"
password_env = "MAILD_SHOP_PASSWORD"
"""
BASE_ENV = {"MAILD_SHOP_PASSWORD": "pw"}
IMAP_LINE = 4  # the line of [mailboxes.shop.imap] in BASE
RECOGNISABLE = "Zebra-Kumquat-4711-secret"


def write(directory: Path, text: str, name: str = "maild.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: Mapping[str, str] | None = None) -> Settings:
    return load_config(write(tmp_path, text), BASE_ENV if environ is None else environ)


def problems_of(
    tmp_path: Path, text: str, environ: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    return caught.value.problems


def only_problem(
    tmp_path: Path, text: str, environ: Mapping[str, str] | None = None
) -> ConfigProblem:
    problems = problems_of(tmp_path, text, environ)
    assert len(problems) == 1, problems
    return problems[0]


# -- the example and the acceptance case ----------------------------------------------


def test_example_config_loads_when_its_variables_are_set() -> None:
    settings = load_config(EXAMPLE, EXAMPLE_ENV)

    assert list(settings.mailboxes) == ["walmart-us", "amazon-eu"]
    walmart = settings.mailboxes["walmart-us"]
    assert walmart.preset == "walmart"
    assert walmart.imap.password == Secret("example-1")
    assert walmart.smtp is not None
    assert walmart.smtp.password == Secret("example-1")
    assert settings.source == EXAMPLE
    assert settings.warnings() == []


def test_example_config_documents_every_key_with_a_comment() -> None:
    rows = EXAMPLE.read_text(encoding="utf-8").splitlines()
    seen: set[str | int] = set()
    for loc, line in key_lines(EXAMPLE.read_text(encoding="utf-8")).items():
        row = rows[line - 1]
        if isinstance(loc[-1], int) or row.startswith("[") or loc[-1] in seen:
            continue  # array elements, table headers, keys already explained above
        seen.add(loc[-1])
        assert rows[line - 2].startswith("#") or "#" in row, f"line {line}: {row}"


def test_three_different_mistakes_are_all_reported_with_path_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        """\
        [mailboxes.walmart-us]
        address = "support@shop.example"

        [mailboxes.walmart-us.imap]
        host = "imap.example.com"
        port = "993x"
        username = "support@shop.example"
        password_env = "MAILD_WALMART_US_PASSWORD"
        pasword = "hunter2"
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(Path("maild.toml"), {})

    assert [str(p) for p in caught.value.problems] == [
        "maild.toml:6: mailboxes.walmart-us.imap.port: expected an integer, got string '993x'",
        "maild.toml:8: mailboxes.walmart-us.imap.password_env:"
        " environment variable MAILD_WALMART_US_PASSWORD is not set",
        "maild.toml:9: mailboxes.walmart-us.imap.pasword:"
        " unknown key 'pasword' (did you mean 'password_env'?)",
    ]
    assert "hunter2" not in str(caught.value)


# -- TOML syntax and file access ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[metrics]\nlisten = 127.0.0.1:9464\n", 2, "invalid TOML"),
        ('[database]\nurl = "sqlite:///x\n', 2, "line ends inside a string"),
        ("[metrics]\n\n[metrics]\n", 3, "table [metrics] is defined twice"),
        ("[metrics\n", 1, "invalid TOML"),
    ],
    ids=["bare-value", "unterminated-string", "table-twice", "unclosed-header"],
)
def test_toml_syntax_error_is_one_problem_on_its_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line) == ("", line)
    assert words in problem.message


def test_duplicate_mailbox_name_is_reported_on_the_second_table(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, BASE + '\n[mailboxes.shop]\naddress = "b@shop.example"\n')

    assert problem.line == 9
    assert "table [mailboxes.shop] is defined twice" in problem.message


def test_missing_file_is_a_config_error_not_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml", {})

    [problem] = caught.value.problems
    assert problem == ConfigProblem(
        str(tmp_path / "absent.toml"), "", "cannot read the file: No such file or directory"
    )


def test_directory_instead_of_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path, {})


def test_non_utf8_file_reports_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "maild.toml"
    path.write_bytes(b'[metrics]\nlisten = "\xff"\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path, {})

    [problem] = caught.value.problems
    assert (problem.line, problem.message) == (2, "not UTF-8 text (TOML files must be UTF-8)")


def test_absurdly_nested_toml_is_a_config_error_not_a_recursion_error(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem.message == "invalid TOML: nested too deeply"


@pytest.mark.parametrize(
    ("text", "path", "line", "message"),
    [
        ("mailboxes = 5\n", "mailboxes", 1, "expected a table, got integer 5"),
        ("[mailboxes]\nshop = 5\n", "mailboxes.shop", 2, "expected a table, got integer 5"),
        ("[[mailboxes]]\n", "mailboxes", 1, "expected a table, got an array"),
        ("database = []\n", "database", 1, "expected a table, got an array"),
        (
            '[mailboxes.shop]\naddress = "a@shop.example"\nimap = [1]\n',
            "mailboxes.shop.imap",
            3,
            "expected a table, got an array",
        ),
    ],
    ids=["mailboxes-int", "mailbox-int", "mailboxes-array", "database-array", "imap-array"],
)
def test_wrongly_shaped_tables_are_problems_not_crashes(
    tmp_path: Path, text: str, path: str, line: int, message: str
) -> None:
    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line, problem.message) == (path, line, message)


# -- unknown keys and types ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (
            "[mailbox.shop]\n",
            "mailbox",
            "unknown key 'mailbox' (did you mean 'mailboxes'?)",
        ),
        (
            "[metrics]\nlisen = '127.0.0.1:1'\n",
            "metrics.lisen",
            "unknown key 'lisen' (did you mean 'listen'?)",
        ),
        (
            BASE + "tls_verfy = false\n",
            "mailboxes.shop.imap.tls_verfy",
            "unknown key 'tls_verfy' (did you mean 'tls_verify'?)",
        ),
        (
            "[database]\nzzz = 1\n",
            "database.zzz",
            "unknown key 'zzz' (allowed here: url, instance, lease_period_s)",
        ),
    ],
    ids=["top-level-table", "metrics", "imap", "no-close-match"],
)
def test_unknown_key_suggests_the_closest_known_key(
    tmp_path: Path, text: str, path: str, message: str
) -> None:
    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.message) == (path, message)


IMAP_VALUE_MISTAKES = [
    ('port = "993"', "port", "expected an integer, got string '993'"),
    ("port = 993.0", "port", "expected an integer, got float 993.0"),
    ('idle = "yes"', "idle", "expected true or false, got string 'yes'"),
    ("tls_verify = 1", "tls_verify", "expected true or false, got integer 1"),
    ('folders = "INBOX"', "folders", "expected an array, got string 'INBOX'"),
    ('poll_interval_s = "60"', "poll_interval_s", "expected a number, got string '60'"),
    ("sent_folder = {a = 1}", "sent_folder", "expected a string, got a table"),
    (
        'security = "TLS"',
        "security",
        "expected one of 'tls', 'starttls', 'none', got string 'TLS' (did you mean 'tls'?)",
    ),
    ("port = 0", "port", "must be at least 1, got integer 0"),
    ("port = 65536", "port", "must be at most 65535, got integer 65536"),
    ("poll_interval_s = 0", "poll_interval_s", "must be greater than 0, got integer 0"),
    ("poll_interval_s = inf", "poll_interval_s", "must be a finite number, got float inf"),
    ("fetch_batch = 0", "fetch_batch", "must be at least 1, got integer 0"),
    ("fetch_batch = 1001", "fetch_batch", "must be at most 1000, got integer 1001"),
    ("folders = []", "folders", "must not be empty"),
    ('folders = ["INBOX", "inbox"]', "folders", "folder 'inbox' is listed twice"),
    ('folders = ["A", ""]', "folders[1]", "must not be empty"),
    ('username = "a\\r\\nLOGOUT"', "username", "must not contain line breaks"),
    (
        'host = "imap example.com"',
        "host",
        "'imap example.com' is not a host name or IP address",
    ),
]


@pytest.mark.parametrize(
    ("line", "key", "message"),
    IMAP_VALUE_MISTAKES,
    ids=[line for line, _, _ in IMAP_VALUE_MISTAKES],
)
def test_imap_value_mistakes_are_explained_in_toml_terms(
    tmp_path: Path, line: str, key: str, message: str
) -> None:
    text = "".join(row for row in BASE.splitlines(keepends=True) if not row.startswith(key + " "))
    problem = only_problem(tmp_path, text + line + "\n")

    assert problem.path == f"mailboxes.shop.imap.{key}"
    assert problem.message == message
    assert problem.line == len(text.splitlines()) + 1


@pytest.mark.parametrize(
    ("key", "line"),
    [("host", IMAP_LINE), ("username", IMAP_LINE)],
)
def test_missing_required_key_points_at_its_table(tmp_path: Path, key: str, line: int) -> None:
    text = "\n".join(row for row in BASE.splitlines() if not row.startswith(key))
    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line) == (f"mailboxes.shop.imap.{key}", line)
    assert problem.message == f"missing required key '{key}'"


# -- mailbox names and mailbox keys ----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("Shop", "mailboxes.Shop"),
        ('"shop us"', 'mailboxes."shop us"'),
        ('"shop.us"', 'mailboxes."shop.us"'),
        ("-shop", "mailboxes.-shop"),
        ("_shop", "mailboxes._shop"),
        ("a" * 64, "mailboxes." + "a" * 64),
        ('"shöp"', 'mailboxes."shöp"'),
    ],
    ids=[
        "upper-case",
        "space",
        "dot",
        "leading-hyphen",
        "leading-underscore",
        "64-chars",
        "umlaut",
    ],
)
def test_invalid_mailbox_name_is_refused_with_the_rule(tmp_path: Path, key: str, path: str) -> None:
    problem = only_problem(tmp_path, BASE.replace("[mailboxes.shop", f"[mailboxes.{key}"))

    assert (problem.path, problem.line) == (path, 1)
    assert "Prometheus label" in problem.message
    assert "lower-case letters, digits, '-' or '_'" in problem.message


@pytest.mark.parametrize("name", ["a", "0shop", "shop_us-2", "a" * 63])
def test_valid_mailbox_names_are_accepted(tmp_path: Path, name: str) -> None:
    settings = load(tmp_path, BASE.replace("[mailboxes.shop", f"[mailboxes.{name}"))

    assert list(settings.mailboxes) == [name]


def test_mailboxes_keep_the_order_of_the_file(tmp_path: Path) -> None:
    text = "".join(BASE.replace("[mailboxes.shop", f"[mailboxes.{n}") for n in ("zeta", "alpha"))
    assert list(load(tmp_path, text).mailboxes) == ["zeta", "alpha"]


@pytest.mark.parametrize(
    "address",
    ["support", "support@shop", "Support <support@shop.example>", "a b@shop.example", "@a.com"],
)
def test_mailbox_address_must_look_like_an_email_address(tmp_path: Path, address: str) -> None:
    problem = only_problem(tmp_path, BASE.replace("support@shop.example", address, 1))

    assert (problem.path, problem.line) == ("mailboxes.shop.address", 2)
    assert "is not an e-mail address" in problem.message


def test_allowed_domains_are_lower_cased(tmp_path: Path) -> None:
    text = BASE.replace(
        "[mailboxes.shop.imap]", 'allowed_domains = ["Walmart.COM"]\n[mailboxes.shop.imap]'
    )
    assert load(tmp_path, text).mailboxes["shop"].allowed_domains == ("walmart.com",)


@pytest.mark.parametrize(
    "domain", ["walmart", "-a.com", "a..com", "https://walmart.com", "*.walmart.com", "1.2.3.4"]
)
def test_invalid_allowed_domain_is_reported_by_its_position(tmp_path: Path, domain: str) -> None:
    text = BASE.replace(
        "[mailboxes.shop.imap]",
        f'allowed_domains = [\n  "walmart.com",\n  "{domain}",\n]\n[mailboxes.shop.imap]',
    )
    problem = only_problem(tmp_path, text)

    assert (problem.path, problem.line) == ("mailboxes.shop.allowed_domains[1]", 6)
    assert "is not a domain name" in problem.message


def test_unknown_preset_suggests_a_known_one(tmp_path: Path) -> None:
    text = BASE.replace("[mailboxes.shop.imap]", 'preset = "amazn"\n[mailboxes.shop.imap]')
    problem = only_problem(tmp_path, text)

    assert problem.path == "mailboxes.shop.preset"
    assert problem.message.endswith("got string 'amazn' (did you mean 'amazon'?)")


# -- defaults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "port"), [("tls", 993), ("starttls", 143), ("none", 143), (None, 993)]
)
def test_imap_port_defaults_by_security(tmp_path: Path, security: str | None, port: int) -> None:
    extra = f'security = "{security}"\n' if security else ""
    assert load(tmp_path, BASE + extra).mailboxes["shop"].imap.port == port


@pytest.mark.parametrize(
    ("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25), (None, 587)]
)
def test_smtp_port_defaults_by_security(tmp_path: Path, security: str | None, port: int) -> None:
    extra = f'security = "{security}"\n' if security else ""
    smtp = load(tmp_path, BASE + '[mailboxes.shop.smtp]\nhost = "smtp.example.com"\n' + extra)
    assert smtp.mailboxes["shop"].smtp is not None
    assert smtp.mailboxes["shop"].smtp.port == port


def test_explicit_port_wins_over_the_security_default(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE + 'security = "starttls"\nport = 1143\n')
    assert settings.mailboxes["shop"].imap.port == 1143


def test_imap_defaults_match_the_documentation(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE)
    mailbox = settings.mailboxes["shop"]

    assert (mailbox.preset, mailbox.allowed_domains, mailbox.smtp) == ("generic", (), None)
    imap = mailbox.imap
    assert (imap.security, imap.tls_verify, imap.folders, imap.sent_folder) == (
        "tls",
        True,
        ("INBOX",),
        "auto",
    )
    assert (imap.idle, imap.poll_interval_s, imap.fetch_batch) == (True, 60.0, 250)
    assert (settings.metrics.host, settings.metrics.port) == ("127.0.0.1", 9464)


def test_empty_sent_folder_means_none(tmp_path: Path) -> None:
    assert load(tmp_path, BASE + 'sent_folder = ""\n').mailboxes["shop"].imap.sent_folder == ""


@pytest.mark.parametrize(
    ("state_directory", "url"),
    [
        ("/var/lib/maild", "sqlite:////var/lib/maild/maild.db"),
        ("/var/lib/maild:/var/lib/other", "sqlite:////var/lib/maild/maild.db"),
    ],
    ids=["one", "several"],
)
def test_database_url_defaults_to_the_systemd_state_directory(
    tmp_path: Path, state_directory: str, url: str
) -> None:
    settings = load(tmp_path, "", {"STATE_DIRECTORY": state_directory})
    assert settings.database.url == url


@pytest.mark.parametrize("environ", [{}, {"STATE_DIRECTORY": ""}], ids=["unset", "empty"])
def test_database_url_defaults_to_the_working_directory_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    settings = load_config(write(tmp_path, "[database]\n"), environ)

    assert settings.database.url == f"sqlite:///{workdir}/maild.db"


def test_explicit_database_url_is_kept(tmp_path: Path) -> None:
    url = "postgresql+psycopg://maild@db.example/maild"
    settings = load(tmp_path, f'[database]\nurl = "{url}"\n', {"STATE_DIRECTORY": "/x"})
    assert settings.database.url == url


def test_database_url_with_a_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    problem = only_problem(
        tmp_path, f'[database]\nurl = "postgresql://maild:{RECOGNISABLE}@h/db"\n'
    )

    assert (problem.path, problem.line) == ("database.url", 2)
    assert "PGPASSFILE" in problem.message
    assert RECOGNISABLE not in str(problem)


def test_zero_mailboxes_is_valid_but_warned_about(tmp_path: Path) -> None:
    settings = load(tmp_path, "")

    assert dict(settings.mailboxes) == {}
    assert settings.warnings() == ["no mailboxes are configured: maild will only export metrics"]


def test_plain_text_login_is_warned_about(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE + 'security = "none"\n')
    assert settings.warnings() == [
        'mailboxes.shop.imap: security = "none" sends the password unencrypted'
    ]


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("[::1]:9464", "::1", 9464),
        ("0.0.0.0:9464", "0.0.0.0", 9464),  # noqa: S104 - a value under test, nothing binds
        ("localhost:0", "localhost", 0),
    ],
)
def test_metrics_listen_accepts_host_port_and_bracketed_ipv6(
    tmp_path: Path, listen: str, host: str, port: int
) -> None:
    metrics = load(tmp_path, f'[metrics]\nlisten = "{listen}"\n').metrics
    assert (metrics.host, metrics.port) == (host, port)


@pytest.mark.parametrize(
    ("listen", "words"),
    [
        ("9464", "is not host:port"),
        (":9464", "is not host:port"),
        ("::1:9464", "put an IPv6 address in brackets"),
        ("[::g]:9464", "is not an IPv6 address"),
        ("localhost:65536", "is not a number from 0 to 65535"),
        ("localhost:http", "is not a number from 0 to 65535"),
        ("local host:9464", "is not a host name"),
    ],
)
def test_metrics_listen_mistakes_are_explained(tmp_path: Path, listen: str, words: str) -> None:
    problem = only_problem(tmp_path, f'[metrics]\nlisten = "{listen}"\n')

    assert (problem.path, problem.line) == ("metrics.listen", 2)
    assert words in problem.message


# -- password sources -------------------------------------------------------------------


def test_literal_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, BASE + f'password = "{RECOGNISABLE}"\n', BASE_ENV)

    assert [(p.path, p.line) for p in problems] == [("mailboxes.shop.imap.password", 8)]
    assert "password_env" in problems[0].message
    assert "password_credential" in problems[0].message
    assert RECOGNISABLE not in str(problems[0])


def test_password_file_is_relative_to_the_config_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "etc", "pw-from-file\n", "secrets/shop")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = BASE.replace('password_env = "MAILD_SHOP_PASSWORD"', 'password_file = "secrets/shop"')

    settings = load_config(write(tmp_path / "etc", text), {})

    assert settings.mailboxes["shop"].imap.password == Secret("pw-from-file")


@pytest.mark.parametrize(
    ("content", "password"),
    [(b"pw", "pw"), (b"pw\n", "pw"), (b"pw\r\n", "pw"), (b"pw\n\n", "pw\n"), (b" pw ", " pw ")],
    ids=["bare", "newline", "crlf", "two-newlines", "spaces-kept"],
)
def test_password_file_loses_exactly_one_trailing_newline(
    tmp_path: Path, content: bytes, password: str
) -> None:
    (tmp_path / "pw").write_bytes(content)
    text = BASE.replace('password_env = "MAILD_SHOP_PASSWORD"', f'password_file = "{tmp_path}/pw"')

    assert load(tmp_path, text, {}).mailboxes["shop"].imap.password == Secret(password)


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "No such file or directory"), (b"\n", "is empty"), (b"\xff", "is not UTF-8 text")],
    ids=["absent", "empty", "binary"],
)
def test_unusable_password_file_is_reported_with_its_path(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    if content is not None:
        (tmp_path / "pw").write_bytes(content)
    text = BASE.replace('password_env = "MAILD_SHOP_PASSWORD"', 'password_file = "pw"')

    problem = only_problem(tmp_path, text, {})

    assert (problem.path, problem.line) == ("mailboxes.shop.imap.password_file", 7)
    assert problem.message.startswith(
        f"cannot read password file {tmp_path}/pw: " if content is None else "password file"
    )
    assert words in problem.message


def test_nul_in_password_file_path_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = BASE.replace('password_env = "MAILD_SHOP_PASSWORD"', 'password_file = "a\\u0000b"')
    problem = only_problem(tmp_path, text, {})
    assert problem.message == "password file path contains a NUL character"


def test_credential_is_read_from_credentials_directory(tmp_path: Path) -> None:
    write(tmp_path / "creds", "pw-from-systemd", "shop-imap")
    text = BASE.replace('password_env = "MAILD_SHOP_PASSWORD"', 'password_credential = "shop-imap"')

    settings = load(tmp_path, text, {"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})

    assert settings.mailboxes["shop"].imap.password == Secret("pw-from-systemd")


@pytest.mark.parametrize(
    ("name", "environ", "words"),
    [
        ("shop-imap", {}, "$CREDENTIALS_DIRECTORY is not set"),
        ("shop-imap", {"CREDENTIALS_DIRECTORY": "/nonexistent"}, "No such file or directory"),
        ("../shop-imap", {"CREDENTIALS_DIRECTORY": "/nonexistent"}, "must be a plain file name"),
    ],
    ids=["no-directory", "absent", "path-escape"],
)
def test_unusable_credential_is_reported_by_name(
    tmp_path: Path, name: str, environ: dict[str, str], words: str
) -> None:
    text = BASE.replace('password_env = "MAILD_SHOP_PASSWORD"', f'password_credential = "{name}"')
    problem = only_problem(tmp_path, text, environ)

    assert problem.path == "mailboxes.shop.imap.password_credential"
    assert words in problem.message


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "environment variable MAILD_SHOP_PASSWORD is not set"),
        ({"MAILD_SHOP_PASSWORD": ""}, "environment variable MAILD_SHOP_PASSWORD is empty"),
    ],
    ids=["unset", "empty"],
)
def test_missing_environment_variable_is_reported_by_name(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    problem = only_problem(tmp_path, BASE, environ)
    assert (problem.path, problem.line, problem.message) == (
        "mailboxes.shop.imap.password_env",
        7,
        message,
    )


def test_password_pasted_into_password_env_is_not_echoed(tmp_path: Path) -> None:
    text = BASE.replace("MAILD_SHOP_PASSWORD", "hunter 2!")
    problem = only_problem(tmp_path, text, {})

    assert problem.message == "is not a valid environment variable name (letters, digits, _)"


def test_two_password_sources_are_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, BASE + 'password_file = "/x"\n')

    assert (problem.path, problem.line) == ("mailboxes.shop.imap.password_file", 8)
    assert problem.message == "give only one of password_env, password_file"


def test_imap_without_password_source_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, BASE.replace('password_env = "MAILD_SHOP_PASSWORD"\n', ""))

    assert (problem.path, problem.line) == ("mailboxes.shop.imap", IMAP_LINE)
    assert problem.message.startswith("no password source")


def test_smtp_without_login_needs_no_password(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE + '[mailboxes.shop.smtp]\nhost = "localhost"\n')
    smtp = settings.mailboxes["shop"].smtp
    assert smtp is not None
    assert (smtp.username, smtp.password) == (None, None)


@pytest.mark.parametrize(
    ("keys", "path", "words"),
    [
        ('username = "a@shop.example"', "mailboxes.shop.smtp", "no password source"),
        ('password_env = "MAILD_SHOP_PASSWORD"', "mailboxes.shop.smtp.username", "'username'"),
    ],
    ids=["username-only", "password-only"],
)
def test_smtp_username_and_password_source_go_together(
    tmp_path: Path, keys: str, path: str, words: str
) -> None:
    text = BASE + f'[mailboxes.shop.smtp]\nhost = "smtp.example.com"\n{keys}\n'
    problem = only_problem(tmp_path, text)

    assert problem.path == path
    assert words in problem.message


# -- secrets never shown ----------------------------------------------------------------


def test_secrets_are_absent_from_repr_str_and_dumps_of_settings(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(RECOGNISABLE + "-file\n", encoding="utf-8")
    write(tmp_path / "creds", RECOGNISABLE + "-cred", "shop-smtp")
    text = (
        BASE
        + '[mailboxes.shop.smtp]\nhost = "smtp.example.com"\nusername = "u"\n'
        + 'password_credential = "shop-smtp"\n'
        + BASE.replace("shop", "other").replace(
            'password_env = "MAILD_SHOP_PASSWORD"', 'password_file = "pw"'
        )
    )
    environ = {
        "MAILD_SHOP_PASSWORD": RECOGNISABLE,
        "CREDENTIALS_DIRECTORY": str(tmp_path / "creds"),
    }

    settings = load(tmp_path, text, environ)

    shop = settings.mailboxes["shop"]
    assert shop.imap.password == Secret(RECOGNISABLE)
    assert shop.smtp is not None
    assert shop.smtp.password is not None
    renderings = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        repr(shop),
        f"{shop.imap.password}",
        repr(shop.smtp.password),
    ]
    for rendering in renderings:
        assert "Zebra-Kumquat" not in rendering
    assert "Secret('********')" in repr(settings)


def test_secrets_are_absent_from_the_error_even_when_resolved(tmp_path: Path) -> None:
    # The last two echo what the operator wrote, which here happens to be the password
    # that MAILD_SHOP_PASSWORD holds: the loader masks resolved values in every message.
    text = (
        BASE
        + f'password = "{RECOGNISABLE}"\n'
        + 'port = "x"\n'
        + '[mailboxes.shop.smtp]\nhost = "smtp.example.com"\nusername = "u"\n'
        + f'password_env = "MAILD_SHOP_PASSWORD"\nport = "{RECOGNISABLE}"\n'
        + f'{RECOGNISABLE} = "{RECOGNISABLE}"\n'
    )

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, {"MAILD_SHOP_PASSWORD": RECOGNISABLE})

    error = caught.value
    assert len(error.problems) == 4
    for rendering in (str(error), repr(error), *(repr(p) for p in error.problems)):
        assert RECOGNISABLE not in rendering


def test_secret_shows_stars_and_reveals_on_request() -> None:
    secret = Secret("s3cr3t")

    assert (repr(secret), str(secret), f"{secret}") == (
        "Secret('********')",
        "********",
        "********",
    )
    assert secret.reveal() == "s3cr3t"
    assert secret == Secret("s3cr3t")
    assert secret != Secret("other")
    assert pickle.loads(pickle.dumps(secret)) == secret  # noqa: S301 - our own bytes
    with pytest.raises(AttributeError):
        secret._value = "changed"


def test_settings_models_accept_only_resolved_secrets() -> None:
    fields = {"host": "h", "port": 993, "username": "u"}

    with pytest.raises(ValidationError):
        ImapSettings.model_validate({**fields, "password": "plain"})
    imap = ImapSettings.model_validate({**fields, "password": Secret("x")})
    assert imap.password == Secret("x")


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path, BASE)
    field = "metrics"

    with pytest.raises(ValidationError):
        setattr(settings, field, None)


def test_source_is_the_absolute_path_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, BASE)
    monkeypatch.chdir(tmp_path)

    assert load_config(Path("maild.toml"), BASE_ENV).source == tmp_path / "maild.toml"


# -- the line locator ---------------------------------------------------------------------

LOCATOR_SAMPLE = """\
# comment [not.a.table]
top = "a = b"              # 2
[mailboxes."walmart.us"]   # 3
address = 'x@y.z'          # 4
imap = { host = "h", port = 993, folders = ["A",
   "B"] }                  # 5-6
[mailboxes.'lit key'.imap] # 7
s = \"\"\"multi
[fake]
x = 1\"\"\"                # 8-10
"esc\\u0041ped" = 2        # 11
a.b . "c" = 3              # 12
[[arr]]                    # 13
k = 1                      # 14
[[arr]]                    # 15
k = 2                      # 16
[arr.sub]                  # 17
when = 1979-05-27 07:32:00Z
"""


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        (("top",), 2),
        (("mailboxes",), 3),
        (("mailboxes", "walmart.us"), 3),
        (("mailboxes", "walmart.us", "address"), 4),
        (("mailboxes", "walmart.us", "imap"), 5),
        (("mailboxes", "walmart.us", "imap", "port"), 5),
        (("mailboxes", "walmart.us", "imap", "folders", 1), 6),
        (("mailboxes", "lit key", "imap"), 7),
        (("mailboxes", "lit key", "imap", "s"), 8),
        (("mailboxes", "lit key", "imap", "escAped"), 11),
        (("mailboxes", "lit key", "imap", "a", "b", "c"), 12),
        (("arr", 0, "k"), 14),
        (("arr", 1, "k"), 16),
        (("arr", 1, "sub"), 17),
        (("arr", 1, "sub", "when"), 18),
        (("mailboxes", "walmart.us", "imap", "missing"), 5),
        (("mailboxes", "lit key", "smtp", "host"), 7),
    ],
    ids=[
        "top-key",
        "implicit-parent",
        "quoted-table",
        "key-in-quoted-table",
        "inline-table",
        "key-in-inline-table",
        "multi-line-array-element",
        "literal-quoted-table",
        "multi-line-string-not-a-table",
        "escaped-quoted-key",
        "dotted-key",
        "array-of-tables-first",
        "array-of-tables-second",
        "sub-table-of-array-element",
        "datetime-with-space",
        "absent-key-falls-back-to-table",
        "absent-table-falls-back-to-parent",
    ],
)
def test_locator_finds_the_line_of_a_key(loc: Loc, line: int) -> None:
    assert line_of(key_lines(LOCATOR_SAMPLE), loc) == line


def test_locator_does_not_mistake_string_content_for_tables() -> None:
    lines = key_lines(LOCATOR_SAMPLE)
    assert ("fake",) not in lines
    assert ("not",) not in lines
    assert ("mailboxes", "lit key", "imap", "x") not in lines


def test_locator_returns_none_when_nothing_encloses_the_key() -> None:
    assert line_of(key_lines("a = 1\n"), ("b", "c")) is None
    assert line_of({}, ()) is None


def test_locator_finds_every_key_tomllib_reads_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    lines = key_lines(text)

    def paths(value: object, loc: Loc) -> list[Loc]:
        if isinstance(value, dict):
            return [loc, *(p for k, v in value.items() for p in paths(v, (*loc, k)))]
        if isinstance(value, list):
            return [loc, *(p for i, v in enumerate(value) for p in paths(v, (*loc, i)))]
        return [loc]

    assert set(paths(tomllib.loads(text), ())[1:]) <= set(lines)


@hypothesis_settings(database=None)
@given(st.text())
def test_locator_never_raises_on_arbitrary_text(text: str) -> None:
    for loc, line in key_lines(text).items():
        assert loc
        assert 1 <= line <= text.count("\n") + 1
