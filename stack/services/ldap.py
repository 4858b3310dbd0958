"""The stack's own LDAP directory (OpenLDAP's slapd): configuration and seed entries.

``stack up --auth ldap`` runs slapd from the state dir (``ldap/``: its config, database
and passwords), bound to 127.0.0.1 on its own port, never the system's slapd service.
The directory holds one organisation (``dc=edtrack,dc=local``), an ``ou=people`` unit
and a seeded user; HiveServer2 checks a client's login by binding as
``uid=<user>,ou=people,dc=edtrack,dc=local`` with the client's password.

Grants follow groups (stack/java/CustomerAccess.java): ``cn=analysts,ou=groups`` (full
access; the seeded user is its first member) and one ``groupOfNames`` per customer under
``ou=customers`` (``edtrack customers``); the Thrift Server reads them as
``cn=access-reader``, an account that can log in to the directory and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from core.errors import UserError
from core.net import port_open
from stack.config import StackConfig
from stack.secrets_file import password, write_private
from stack.services.base import Runtime, Service, Unhealthy

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
rootdn "{config.ldap_admin_dn}"
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


def access_ldif(config: StackConfig, reader_password_hash: str) -> str:
    """The groups grants follow and the account that reads them, as LDIF for slapadd."""
    return f"""dn: {config.ldap_customers_dn}
objectClass: organizationalUnit
ou: customers

dn: {config.ldap_groups_dn}
objectClass: organizationalUnit
ou: groups

dn: {config.ldap_analysts_dn}
objectClass: groupOfNames
cn: analysts
description: EdTech Co's analysts: full access to every schema
member: {config.ldap_user_dn(config.ldap_user)}

dn: {config.ldap_reader_dn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: access-reader
description: The Thrift Server reads group memberships as this account
userPassword: {reader_password_hash}
"""


def command(rt: Runtime) -> list[str]:
    # -d keeps slapd in the foreground (the stack tracks its pid); "stats" logs each
    # connection and bind to the service log.
    return [
        str(find_program("slapd")),
        "-d",
        "stats",
        "-h",
        f"{rt.config.ldap_url}/",
        "-f",
        str(rt.config.service_dir("ldap") / "slapd.conf"),
    ]


def init_directory(rt: Runtime) -> None:
    """slapd's config, database and seeded user under ``ldap/``, seeded once."""
    config = rt.config
    ldap_dir = config.service_dir("ldap")
    (ldap_dir / "data").mkdir(parents=True, exist_ok=True)
    admin = password(config.ldap_admin_password_file)
    write_private(ldap_dir / "slapd.conf", slapd_conf(config, ssha(admin)))
    slapadd = [str(find_program("slapadd")), "-f", str(ldap_dir / "slapd.conf"), "-l"]
    if not (ldap_dir / "data" / "data.mdb").exists():
        rt.log(f"seeding the LDAP directory with user {config.ldap_user!r} (once)")
        seed = ldap_dir / "seed.ldif"
        user_hash = ssha(password(config.ldap_password_file))
        write_private(seed, seed_ldif(config, user_hash))
        rt.run_once("ldap-seed", [*slapadd, str(seed)])
    # A directory seeded before grants followed groups gets them once, too.
    marker = ldap_dir / "access.seeded"
    if not marker.exists():
        rt.log("adding the analysts group, ou=customers and the access reader (once)")
        seed = ldap_dir / "access.ldif"
        write_private(seed, access_ldif(config, ssha(password(config.ldap_reader_password_file))))
        rt.run_once("ldap-access", [*slapadd, str(seed)])
        marker.write_text("1\n")


def check(config: StackConfig) -> None:
    """The seeded user binds with its password (``ldapwhoami``) and is told its DN."""
    if not port_open(config.host, config.ports["ldap"]):
        raise Unhealthy(f"nothing listens on {config.ldap_url}")
    dn = config.ldap_user_dn(config.ldap_user)
    cmd = [
        str(find_program("ldapwhoami")),
        "-x",
        "-H",
        config.ldap_url,
        "-D",
        dn,
        "-y",
        str(config.ldap_password_file),
    ]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise Unhealthy("ldapwhoami took over 10 s") from None
    if result.returncode != 0:
        raise Unhealthy(f"LDAP bind as {dn} failed: {result.stderr.strip()}")
    if result.stdout.strip() != f"dn:{dn}":
        raise Unhealthy(f"LDAP whoami answered {result.stdout.strip()!r}")


SERVICE = Service(
    "ldap",
    check,
    command,
    enabled=lambda config: config.auth == "ldap",
    prepare=init_directory,
)
