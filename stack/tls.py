"""TLS on the Thrift Server's port (``stack up --tls``): a self-signed certificate for the
stack's address, made once with the JDK's ``keytool``.

The state dir's ``tls/`` folder holds what each side needs:

- ``thrift-server.jks``: the server's key and certificate, which HiveServer2 reads
  (``hive.server2.keystore.path``); owner-only, like its password file.
- ``thrift-server.pem``: the certificate alone, the CA file Python clients trust
  (``thrift.ssl_cafile``: ``edtrack``, PyHive, dbt).
- ``truststore.jks``: the certificate for JDBC clients (beeline's ``sslTrustStore``),
  with a password of its own (``truststore.password``) that JDBC URLs may carry.

The certificate names the stack's address (``EDTRACK_STACK_HOST``) and ``localhost`` as
subject alternative names, so clients check the host name as well as the signature. It
is made again when the address changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.errors import UserError
from stack.config import StackConfig
from stack.secrets_file import password

ALIAS = "edtrack-thrift-server"
VALID_DAYS = 3650


def ensure_certificate(config: StackConfig, java_home: Path) -> None:
    """Make the keystore, the PEM certificate and the truststore unless they exist for
    the stack's current address."""
    config.tls_dir.mkdir(parents=True, exist_ok=True)
    config.tls_dir.chmod(0o700)
    marker = config.tls_dir / "host"
    made = [config.tls_keystore, config.tls_cert_file, config.tls_truststore, marker]
    trust_secret = password(config.tls_truststore_password_file)
    if all(path.exists() for path in made) and marker.read_text() == config.host:
        return
    for path in made:
        path.unlink(missing_ok=True)
    secret = password(config.tls_password_file)
    keytool = str(java_home / "bin" / "keytool")
    store = ["-storetype", "JKS", "-storepass:env", "EDTRACK_KEYSTORE_PASSWORD"]
    _keytool(
        [
            keytool, "-genkeypair", "-alias", ALIAS, "-keyalg", "RSA", "-keysize", "2048",
            "-validity", str(VALID_DAYS), "-dname", f"CN={config.host}, O=edtrack local stack",
            "-ext", f"SAN=ip:{config.host},dns:localhost",
            "-keystore", str(config.tls_keystore), *store,
            "-keypass:env", "EDTRACK_KEYSTORE_PASSWORD",
        ],
        secret,
    )  # fmt: skip
    config.tls_keystore.chmod(0o600)
    _keytool(
        [
            keytool, "-exportcert", "-rfc", "-alias", ALIAS,
            "-keystore", str(config.tls_keystore), "-file", str(config.tls_cert_file), *store,
        ],
        secret,
    )  # fmt: skip
    _keytool(
        [
            keytool, "-importcert", "-noprompt", "-alias", ALIAS,
            "-file", str(config.tls_cert_file), "-keystore", str(config.tls_truststore), *store,
        ],
        trust_secret,
    )  # fmt: skip
    marker.write_text(config.host)


def _keytool(args: list[str], secret: str) -> None:
    # The password reaches keytool by its environment, never on a command line.
    result = subprocess.run(
        args,
        env={"EDTRACK_KEYSTORE_PASSWORD": secret},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        raise UserError(
            f"keytool could not make the Thrift Server's certificate ({args[1]}): "
            f"{said[-1] if said else f'exit {result.returncode}'}"
        )
