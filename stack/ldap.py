"""The stack's own LDAP directory (OpenLDAP's slapd): configuration and seed entries.

``stack up --auth ldap`` runs slapd from the state dir (``ldap/``: its config, database
and passwords), bound to 127.0.0.1 on its own port, never the system's slapd service.
The directory holds one organisation (``dc=edtrack,dc=local``), an ``ou=people`` unit
and a seeded user; HiveServer2 checks a client's login by binding as
``uid=<user>,ou=people,dc=edtrack,dc=local`` with the client's password.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path

from core.errors import UserError
from stack.config import StackConfig

SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")


def ssha(password: str, salt: bytes | None = None) -> str:
    """An RFC 2307 ``{SSHA}`` hash (salted SHA-1), the form slapd checks by default."""
    salt = os.urandom(8) if salt is None else salt
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def check_ssha(password: str, hashed: str) -> bool:
    raw = base64.b64decode(hashed.removeprefix("{SSHA}"))
    return ssha(password, raw[20:]) == hashed


def find_program(name: str) -> Path:
    """An OpenLDAP program (slapd, slapadd in /usr/sbin; ldapwhoami in /usr/bin)."""
    for folder in ("/usr/sbin", "/usr/bin"):
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise UserError(
        f"LDAP authentication needs OpenLDAP's {name}, which is not installed: "
        "apt-get install slapd ldap-utils, then run the command again."
    )


def slapd_conf(config: StackConfig, admin_password_hash: str) -> str:
    """slapd's configuration file: one mdb database under the state dir."""
    ldap_dir = config.service_dir("ldap")
    includes = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in SCHEMAS)
    return f"""# Rendered by `edtrack stack up --auth ldap`; slapd runs with -f this file.
{includes}
pidfile {ldap_dir / "slapd.pid"}
argsfile {ldap_dir / "slapd.args"}
modulepath {MODULE_DIR}
moduleload back_mdb
# A simple bind with a DN and no password must fail, not count as anonymous.
disallow bind_anon
require authc

database mdb
maxsize 104857600
suffix "{config.ldap_suffix}"
rootdn "cn=admin,{config.ldap_suffix}"
rootpw {admin_password_hash}
directory {ldap_dir / "data"}
index objectClass,uid eq
# Passwords: usable to log in, never readable. Entries: readable after a login.
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by self read
  by users read
  by * none
"""


def seed_ldif(config: StackConfig, user_password_hash: str) -> str:
    """The organisation, its people unit and the seeded user, as LDIF for slapadd."""
    dc = config.ldap_suffix.split(",")[0].split("=", 1)[1]
    user = config.ldap_user
    return f"""dn: {config.ldap_suffix}
objectClass: top
objectClass: dcObject
objectClass: organization
o: edtrack
dc: {dc}

dn: {config.ldap_people_dn}
objectClass: organizationalUnit
ou: people

dn: {config.ldap_user_dn(user)}
objectClass: inetOrgPerson
uid: {user}
cn: {user}
sn: {user}
userPassword: {user_password_hash}
"""
