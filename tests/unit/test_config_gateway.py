"""The [mailboxes.NAME.gateway] table: defaults, agent secrets by reference, located errors."""

from __future__ import annotations

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
