"""TLS as the tests see it: certificates made with openssl, trust in one certificate, handshakes."""

from __future__ import annotations

import socket
import ssl
import subprocess
import warnings
from pathlib import Path

import pytest

# The HSTS policy of a production project with default settings: Django's, and nginx's by derivation.
HSTS = "max-age=31536000; includeSubDomains; preload"


def trusting(certificate: str) -> ssl.SSLContext:
    """A client TLS context that trusts this one certificate (PEM text or a path), and no other."""
    if certificate.lstrip().startswith("-----BEGIN"):
        return ssl.create_default_context(cadata=certificate)
    return ssl.create_default_context(cafile=certificate)


def make_certificate(directory: Path, names: str, common_name: str) -> tuple[Path, Path]:
    """fullchain.pem and privkey.pem in ``directory``, self-signed, as an operator makes them.

    ``names`` is an openssl subjectAltName value, e.g. "IP:127.0.0.1,DNS:localhost".
    """
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
            *("-days", "2", "-subj", f"/CN={common_name}", "-addext", f"subjectAltName={names}"),
            *("-keyout", f"{key}.new", "-out", f"{certificate}.new"),
        ],
        capture_output=True,
        check=True,
    )
    # Key first, each replaced whole: a reader never sees half a file.
    Path(f"{key}.new").replace(key)
    Path(f"{certificate}.new").replace(certificate)
    return certificate, key


def tls_handshake(
    port: int,
    version: ssl.TLSVersion | None = None,
    host: str = "127.0.0.1",
    server_name: str | None = None,
) -> tuple[str, str | None, bytes]:
    """Shake hands with a TLS server on 127.0.0.1: (protocol, ALPN protocol, certificate in DER).

    ``version`` pins the protocol version this client offers; the client allows even TLS
    1.0 and 1.1 (OpenSSL's security level 0), so a refusal is the server's. The
    certificate is not verified here: this is about the handshake.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if version is not None:
        with warnings.catch_warnings():  # pinning TLS 1.0 or 1.1 is deprecated: the point here
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = version
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection((host, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=server_name or host) as tls,
    ):
        certificate = tls.getpeercert(binary_form=True)
        assert certificate is not None
        return str(tls.version()), tls.selected_alpn_protocol(), certificate


def assert_modern_tls_only(port: int) -> None:
    """TLS 1.3 and 1.2 negotiate HTTP/2; a client offering only TLS 1.0 or 1.1 gets the server's refusal."""
    assert tls_handshake(port)[:2] == ("TLSv1.3", "h2")
    assert tls_handshake(port, ssl.TLSVersion.TLSv1_2)[:2] == ("TLSv1.2", "h2")
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises(ssl.SSLError) as refused:
            tls_handshake(port, old)
        assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", (old, refused.value)
