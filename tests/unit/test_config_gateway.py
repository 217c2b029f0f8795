"""The [mailboxes.NAME.gateway] table: defaults, agent secrets by reference, located errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maild.config import Secret, load_config
from maild.errors import ConfigError, ConfigProblem
from tests.support.gateway import GatewayTls, gateway_tls

BASE = """\
[mailboxes.shop]
address = "support@shop.example"

[mailboxes.shop.imap]
host = "imap.example.com"
username = "support@shop.example"
password_env = "MAILD_SHOP_PASSWORD"

[mailboxes.shop.gateway]
listen = "127.0.0.1"
cert_file = "gateway.pem"
key_file = "gateway.key"
"""
ENV = {"MAILD_SHOP_PASSWORD": "pw", "ALICE_PW": "alice-secret"}
GATEWAY_LINE = 9  # the line of [mailboxes.shop.gateway] in BASE
ALICE = '\n[mailboxes.shop.gateway.agents.alice]\npassword_env = "ALICE_PW"\n'


@pytest.fixture
def tls(tmp_path: Path) -> GatewayTls:
    return gateway_tls(tmp_path)


def problems_of(tmp_path: Path, text: str) -> list[ConfigProblem]:
    path = tmp_path / "maild.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    return caught.value.problems


def test_a_gateway_takes_the_submission_port_of_its_tls_mode_and_sane_limits(
    tls: GatewayTls, tmp_path: Path
) -> None:
    path = tmp_path / "maild.toml"
    path.write_text(BASE + ALICE)
    gateway = load_config(path, ENV).mailboxes["shop"].gateway
    assert gateway is not None
    assert (gateway.listen, gateway.tls) == ("127.0.0.1:587", "starttls")
    assert gateway.max_message_bytes == 25 * 1024 * 1024
    assert (gateway.max_auth_failures, gateway.auth_window_s) == (5, 600.0)
    alice = gateway.agents["alice"]
    assert alice.password == Secret("alice-secret")
    assert (alice.senders, alice.max_per_hour) == ((), 200)
    path.write_text(
        BASE.replace('listen = "127.0.0.1"', 'listen = "[::1]"\ntls = "implicit"') + ALICE
    )
    implicit = load_config(path, ENV).mailboxes["shop"].gateway
    assert implicit is not None and implicit.listen == "[::1]:465"


def test_a_literal_agent_password_is_refused_with_file_line_and_key(
    tls: GatewayTls, tmp_path: Path
) -> None:
    text = BASE + '\n[mailboxes.shop.gateway.agents.bob]\npassword = "Zebra-Kumquat-4711"\n'
    problems = problems_of(tmp_path, text)
    [problem] = [p for p in problems if p.path == "mailboxes.shop.gateway.agents.bob.password"]
    assert problem.file.endswith("maild.toml")
    assert problem.line == 15
    assert "never written in the config file" in problem.message
    assert "password_env" in problem.message
    assert not [p for p in problems if "Zebra" in str(p)]


def test_an_agent_without_a_password_source_or_with_a_missing_variable_is_named(
    tls: GatewayTls, tmp_path: Path
) -> None:
    text = (
        BASE
        + '\n[mailboxes.shop.gateway.agents.bob]\nsenders = ["bob@shop.example"]\n'
        + '\n[mailboxes.shop.gateway.agents.carol]\npassword_env = "CAROL_PW"\n'
    )
    bob, carol = problems_of(tmp_path, text)
    assert bob.path == "mailboxes.shop.gateway.agents.bob" and "no password source" in bob.message
    assert carol.path == "mailboxes.shop.gateway.agents.carol.password_env"
    assert "CAROL_PW is not set" in carol.message


def test_a_certificate_that_cannot_be_loaded_is_a_config_error(
    tls: GatewayTls, tmp_path: Path
) -> None:
    text = BASE.replace('key_file = "gateway.key"', 'key_file = "ca.pem"') + ALICE
    [problem] = problems_of(tmp_path, text)
    assert problem.path == "mailboxes.shop.gateway.cert_file"
    assert problem.line == GATEWAY_LINE + 2
    assert "cannot use the certificate gateway.pem with the key ca.pem" in problem.message


def test_mistakes_in_the_gateway_table_are_all_reported_with_their_keys(
    tls: GatewayTls, tmp_path: Path
) -> None:
    text = (
        BASE.replace('listen = "127.0.0.1"', 'listen = "127.0.0.1:99999"\ntls = "ssl"')
        + "max_message_bytes = 10\nmax_auth_failure = 3\n"
        + ALICE
        + 'senders = ["not an address"]\n'
    )
    found = {p.path: p.message for p in problems_of(tmp_path, text)}
    assert "port '99999' is not a number from 0 to 65535" in found["mailboxes.shop.gateway.listen"]
    assert "expected one of 'starttls', 'implicit'" in found["mailboxes.shop.gateway.tls"]
    assert "at least 1024" in found["mailboxes.shop.gateway.max_message_bytes"]
    assert "did you mean 'max_auth_failures'" in found["mailboxes.shop.gateway.max_auth_failure"]
    assert "not an e-mail address" in found["mailboxes.shop.gateway.agents.alice.senders[0]"]


def test_a_gateway_needs_an_agent(tls: GatewayTls, tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, BASE)
    assert problem.path == "mailboxes.shop.gateway.agents"
    assert problem.message == "missing required key 'agents'"


def test_two_mailboxes_cannot_listen_on_one_address(tls: GatewayTls, tmp_path: Path) -> None:
    second = BASE.replace("shop", "shop2") + ALICE.replace("shop", "shop2")
    [problem] = problems_of(tmp_path, BASE + ALICE + "\n" + second)
    assert problem.path == "mailboxes.shop2.gateway.listen"
    assert problem.message == "mailbox 'shop' listens on 127.0.0.1:587 already"


def test_the_example_configs_commented_gateway_loads_once_uncommented(
    tls: GatewayTls, tmp_path: Path
) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "maild.example.toml"
    text = example.read_text(encoding="utf-8")
    start = text.index("# [mailboxes.walmart-us.gateway]")
    end = text.index("\n\n", start)
    block = [
        line[2:] for line in text[start:end].splitlines() if re.match(r"# (\[|[a-z_]+ = )", line)
    ]
    gateway = "\n".join(block).replace("/etc/maild/tls/fullchain.pem", "gateway.pem")
    gateway = gateway.replace("/etc/maild/tls/privkey.pem", "gateway.key")
    gateway = gateway.replace("walmart-us", "shop").replace("0.0.0.0", "127.0.0.1")  # noqa: S104
    path = tmp_path / "maild.toml"
    path.write_text(BASE.split("[mailboxes.shop.gateway]")[0] + gateway + "\n")
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "maild-agent-alice").write_text("alice-secret\n")
    env = {**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")}
    loaded = load_config(path, env).mailboxes["shop"].gateway
    assert loaded is not None and loaded.listen == "127.0.0.1:587"
    assert loaded.agents["alice"].password == Secret("alice-secret")
    assert loaded.agents["alice"].senders == ("alice@shop.example",)
