"""Users and their grants in the stack's LDAP directory (``stack up --auth ldap``).

Grants follow groups, read by the Thrift Server at each login (stack/java/
CustomerAccess.java, cached for a few seconds), so a change needs no restart:

* ``cn=analysts,ou=groups,...``: EdTech Co's analysts, full access;
* ``cn=<customer_id>,ou=customers,...``: a customer's logins, which read only that
  customer's rows of the tables of schema ``shared``.

A group of customer logins exists while it has members (``groupOfNames`` needs one): the
first user added to a customer creates it, removing the last one deletes it. The
directory's admin (its password in the state dir) makes the changes, with OpenLDAP's
client tools.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import dataclass

from core.errors import ServiceUnavailable, UserError
from core.net import port_open
from stack.config import StackConfig
from stack.services.ldap import find_program, ssha

USER_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
# A customer id names its LDAP group and appears in the exam_owners seed.
CUSTOMER_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
ANALYSTS = "analysts"

# ldapmodify's exit codes that mean "already so" or "not there".
NO_SUCH_OBJECT = 32
VALUE_EXISTS = 20
NO_SUCH_VALUE = 16
OBJECT_CLASS_VIOLATION = 65


@dataclass(frozen=True)
class Added:
    user: str
    group: str
    password: str | None  # set when the user was created by this call


def _check_name(kind: str, value: str, pattern: re.Pattern) -> None:
    if not pattern.match(value):
        raise UserError(
            f"{kind} {value!r} is not valid: use lowercase letters, digits and "
            f"{'._-' if pattern is USER_NAME else '_-'}, starting with a letter."
        )


def _require_directory(config: StackConfig) -> None:
    if config.auth != "ldap":
        raise UserError(
            "The stack runs without logins (auth none), so there are no users to manage: "
            "start it with `edtrack stack up --auth ldap`."
        )
    if not port_open(config.host, config.ports["ldap"]):
        raise ServiceUnavailable(
            f"The stack's LDAP directory does not answer at {config.ldap_url}: "
            "start the stack with `edtrack stack up`."
        )


def _group_dn(config: StackConfig, customer: str | None) -> str:
    if customer is None:
        return config.ldap_analysts_dn
    _check_name("Customer id", customer, CUSTOMER_ID)
    return config.ldap_customer_dn(customer)


def _as_admin(config: StackConfig, tool: str) -> list[str]:
    """An OpenLDAP client tool bound to the stack's directory as its admin."""
    return [
        str(find_program(tool)),
        "-x",
        "-H",
        config.ldap_url,
        "-D",
        config.ldap_admin_dn,
        "-y",
        str(config.ldap_admin_password_file),
    ]


def _admin(config: StackConfig, tool: str, ldif: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _as_admin(config, tool), input=ldif, capture_output=True, text=True, timeout=30
    )


def _fail(action: str, result: subprocess.CompletedProcess) -> UserError:
    message = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return UserError(f"The directory refused to {action}: {message[0] if message else '?'}.")


def _user_exists(config: StackConfig, user: str) -> bool:
    result = _search(config, config.ldap_user_dn(user), "base", "(objectClass=*)", "uid")
    return bool(result)


def _search(config: StackConfig, base: str, scope: str, query: str, *attrs: str) -> list[dict]:
    cmd = [
        *_as_admin(config, "ldapsearch"),
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-b",
        base,
        "-s",
        scope,
        query,
        *attrs,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if result.returncode == NO_SUCH_OBJECT:
        return []
    if result.returncode != 0:
        raise _fail("search", result)
    return parse_ldif(result.stdout)


def parse_ldif(text: str) -> list[dict[str, list[str]]]:
    """Entries of unwrapped LDIF (``ldapsearch -LLL -o ldif-wrap=no``): attribute ->
    values, the DN under ``dn``."""
    entries: list[dict[str, list[str]]] = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, list[str]] = {}
        for line in block.splitlines():
            if not line or line.startswith("#") or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            entry.setdefault(key.lower(), []).append(value)
        if entry:
            entries.append(entry)
    return entries


def add_user(config: StackConfig, user: str, customer: str | None) -> Added:
    """Put ``user`` in ``customer``'s group (or the analysts' when ``customer`` is None),
    creating the user with a generated password and the group when missing."""
    _require_directory(config)
    _check_name("User name", user, USER_NAME)
    group = _group_dn(config, customer)
    user_dn = config.ldap_user_dn(user)
    new_password = None
    if not _user_exists(config, user):
        new_password = secrets.token_urlsafe(18)
        ldif = (
            f"dn: {user_dn}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\n"
            f"sn: {user}\nuserPassword: {ssha(new_password)}\n"
        )
        result = _admin(config, "ldapadd", ldif)
        if result.returncode != 0:
            raise _fail(f"add user {user!r}", result)
    result = _admin(
        config, "ldapmodify", f"dn: {group}\nchangetype: modify\nadd: member\nmember: {user_dn}\n"
    )
    if result.returncode == NO_SUCH_OBJECT and customer is not None:
        result = _admin(
            config,
            "ldapadd",
            f"dn: {group}\nobjectClass: groupOfNames\ncn: {customer}\nmember: {user_dn}\n",
        )
    if result.returncode not in (0, VALUE_EXISTS):
        raise _fail(f"add {user!r} to {group}", result)
    return Added(user, customer or ANALYSTS, new_password)


def remove_user(config: StackConfig, user: str, customer: str | None) -> bool:
    """Take ``user`` out of the group; False when it was not in it. The user stays (it
    may belong to other groups); a customer's group without members is deleted."""
    _require_directory(config)
    _check_name("User name", user, USER_NAME)
    group = _group_dn(config, customer)
    user_dn = config.ldap_user_dn(user)
    result = _admin(
        config,
        "ldapmodify",
        f"dn: {group}\nchangetype: modify\ndelete: member\nmember: {user_dn}\n",
    )
    if result.returncode == OBJECT_CLASS_VIOLATION and customer is not None:
        # The last member: the group goes with it.
        result = _admin(config, "ldapmodify", f"dn: {group}\nchangetype: delete\n")
    if result.returncode in (NO_SUCH_OBJECT, NO_SUCH_VALUE):
        return False
    if result.returncode != 0:
        raise _fail(f"remove {user!r} from {group}", result)
    return True


def groups(config: StackConfig) -> dict[str, list[str]]:
    """Each group (``analysts`` first, then the customers) and its users."""
    _require_directory(config)
    found: dict[str, list[str]] = {}
    analysts = _search(config, config.ldap_analysts_dn, "base", "(objectClass=*)", "member")
    customers = _search(
        config, config.ldap_customers_dn, "one", "(objectClass=groupOfNames)", "cn", "member"
    )
    customers.sort(key=lambda entry: entry["cn"][0])
    for name, entries in ((ANALYSTS, analysts), (None, customers)):
        for entry in entries:
            group = name or entry["cn"][0]
            found[group] = sorted(_uid(dn) for dn in entry.get("member", []))
    return found


def _uid(dn: str) -> str:
    first = dn.split(",", 1)[0]
    return first.split("=", 1)[1] if first.lower().startswith("uid=") else dn
