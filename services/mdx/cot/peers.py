"""Who is at the other end of a CoT connection, as a `Caller` the policy judges.

- Plain TCP: the node's own network, so the node's own viewer (`Caller` local).
- TLS: a client certificate issued by this node's CA (`mdx pki issue`), not revoked in its
  CRL (read again whenever `mdx pki revoke` rewrites it). The certificate's CN names a partner
  node of the config: that partner's releasability. Otherwise its role (the OU) must be
  `console`: a device or account of the node's own people, a local viewer. Producers, services
  and bridges are machines that feed or run the node; they get no picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from mdx.api.visibility import Caller
from mdx.core.settings import NodeSettings

LOCAL_ROLE = "console"


class Refused(Exception):
    """The client may not have a picture; the message says why (for the log)."""


def local_viewer(settings: NodeSettings, name: str) -> Caller:
    return Caller(node=None, settings=settings, subject=name[:64], role="viewer")


@dataclass
class Revocations:
    """The serial numbers the node's CRL revokes, read again when the file changes."""

    crl: Path
    _stamp: int = -1
    _serials: frozenset[int] = field(default_factory=frozenset)

    def revoked(self, serial: int) -> bool:
        try:
            stamp = self.crl.stat().st_mtime_ns
        except FileNotFoundError:
            raise Refused(f"no CRL at {self.crl}: run `mdx pki init`") from None
        if stamp != self._stamp:
            crl = x509.load_pem_x509_crl(self.crl.read_bytes())
            self._serials = frozenset(r.serial_number for r in crl)
            self._stamp = stamp
        return serial in self._serials


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    found = name.get_attributes_for_oid(oid)
    return str(found[0].value) if found else None


def tls_caller(der: bytes | None, settings: NodeSettings, revocations: Revocations) -> Caller:
    """The Caller of a client whose certificate (DER) the TLS handshake verified against the
    node's CA; `Refused` if it is revoked or names no one who may have a picture."""
    if der is None:
        raise Refused("no client certificate")
    cert = x509.load_der_x509_certificate(der)
    if revocations.revoked(cert.serial_number):
        raise Refused(f"certificate {cert.serial_number:x} is revoked")
    cn = _attribute(cert.subject, NameOID.COMMON_NAME)
    role = _attribute(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not cn:
        raise Refused("the certificate names no one (no CN)")
    if settings.partner(cn) is not None:
        return Caller(node=cn, settings=settings, subject=cn, role="partner")
    if role == LOCAL_ROLE:
        return local_viewer(settings, cn)
    raise Refused(f"{cn!r} ({role}) is neither a partner node nor a console of this node")
