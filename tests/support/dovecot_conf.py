"""The configuration of the private test Dovecot, with the reason for each choice.

Everything Dovecot writes (sockets, state, logs) stays in the instance's temp dir, and it
runs entirely as one unprivileged user, so it needs no root and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import RunUser

__all__ = ["render_config", "render_oauth2_conf"]


def render_config(
    root: Path,
    host: str,
    ports: tuple[int, int],
    user: RunUser,
    dh: Path,
    *,
    instance: str,
    oauth2: Path | None = None,
) -> str:
    """dovecot.conf for an instance in ``root`` listening on ``ports`` (plain, TLS).

    With ``oauth2`` (the path of a file from ``render_oauth2_conf``), XOAUTH2 and
    OAUTHBEARER logins are checked by Dovecot's oauth2 passdb as well.
    """
    return TEMPLATE.format(
        mechanisms="plain login xoauth2 oauthbearer" if oauth2 else "plain login",
        oauth2_passdb=OAUTH2_PASSDB.format(args=oauth2) if oauth2 else "",
        instance=instance,
        root=root,
        host=host,
        port=ports[0],
        tls_port=ports[1],
        user=user.name,
        group=user.group,
        uid=user.uid,
        gid=user.gid,
        dh=dh,
    )


# passdb/userdb: one passwd-file per user (%u in the path); see DovecotServer.add_user.
# auth_failure_delay = 0: a refused login answers after ~0.5 s (Dovecot flushes failures
#   on a 0.5 s timer) instead of 2 s.
# mail_max_userip_connections: Dovecot's default of 10 per user and IP is easy to hit
#   from one test that opens several sessions.
# mail_fsync = never: the data is thrown away; fsync only slows APPEND down.
# namespace inbox: a folder named Sent carries the \Sent special-use attribute (RFC 6154),
#   as on real servers, so maild's discovery of the Sent folder is tested; none is created.
TEMPLATE = """\
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
debug_log_path = {root}/dovecot.log
listen = {host}
protocols = imap
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
first_valid_gid = {gid}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_dh = <{dh}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
  default_fields = uid={uid} gid={gid}
}}
{oauth2_passdb}protocol imap {{
  mail_max_userip_connections = 1000
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No anvil-auth-penalty listener: otherwise one failed login delays every later
  # login from 127.0.0.1 by 2 s and more (Dovecot's brute-force protection).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def render_oauth2_conf(introspection_url: str) -> str:
    """The oauth2 passdb's own file, pointing at a test's introspection endpoint."""
    return OAUTH2_CONF.format(introspection_url=introspection_url)


# Only XOAUTH2/OAUTHBEARER logins reach this passdb, so a wrong password is never sent to
# the introspection endpoint. auth_cache_size = 0 is the default, stated because a cached
# success would let an expired token in and hide the refresh a test is about.
OAUTH2_PASSDB = """\
auth_cache_size = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {args}
}}
"""

# Dovecot 2.3 oauth2 passdb (dovecot-oauth2.conf.ext): with no tokeninfo_url every token goes
# to the introspection endpoint, as an RFC 7662 POST of token=...; the answer must name the
# user (username_attribute) and say "active": true, or the login is refused.
OAUTH2_CONF = """\
introspection_url = {introspection_url}
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""
