"""A node's own certificate authority for MQTT over TLS (`mdx pki ...`).

Each node runs its own CA and trusts no other for identities: any CA can put any name in a
certificate, so a partner's bridge connects with a certificate that *our* CA issued to it
(the partner sends a CSR, `mdx pki sign CSR --as-partner ID`, and we fix its CN to
`bridge-ID` whatever the CSR asked for). The broker's TLS listener has
`use_identity_as_username`: the CN is the MQTT identity the ACL is written for.

Keys are ECDSA P-256 (Mosquitto 2.0.11 with OpenSSL 3 serves and verifies them). Layout of
`{security_dir}/pki/`:

    ca.key ca.crt          the CA (the key never leaves this folder; 0600)
    server.key server.crt  the broker's TLS listener (SAN: 127.0.0.1, localhost, broker host,
                           [broker] tls_names)
    crl.pem                revoked certificates; renewed by `mdx pki init` past half its life;
                           a running node restarts its broker when it changes
    index.json             every issued certificate: serial -> name, role, revoked
    issued/NAME.crt .key   certificates issued here with their keys (`mdx pki issue`)
    partners/P.key .csr    our bridge's key to partner P, and the CSR we send P
    partners/P.crt P-ca.crt  what P's CA issued us (`mdx pki accept`) and P's CA, which our
                           bridge checks P's broker against
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Role = Literal["producer", "service", "bridge", "console"]
ROLES: tuple[str, ...] = get_args(Role)
CA_DAYS = 3650
CERT_DAYS = 825
# A CRL past its next-update date makes OpenSSL refuse every client: long, and renewed at
# every `mdx pki init` and revocation.
CRL_DAYS = 365


class PkiError(RuntimeError):
    pass


@dataclass(frozen=True)
class Pki:
    """The files of one node's CA."""

    dir: Path

    @classmethod
    def of(cls, security_dir: Path) -> Pki:
        return cls(security_dir / "pki")

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def crl(self) -> Path:
        return self.dir / "crl.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.crt"

    @property
    def index(self) -> Path:
        return self.dir / "index.json"

    def issued(self, name: str) -> tuple[Path, Path]:
        return self.dir / "issued" / f"{name}.crt", self.dir / "issued" / f"{name}.key"

    def partner_files(self, partner: str) -> tuple[Path, Path, Path]:
        """(our bridge's certificate at `partner`, its key, `partner`'s CA certificate)."""
        d = self.dir / "partners"
        return d / f"{partner}.crt", d / f"{partner}.key", d / f"{partner}-ca.crt"

    def exists(self) -> bool:
        return self.ca_key.exists() and self.ca_cert.exists()


def bridge_identity(partner: str) -> str:
    """The MQTT identity (certificate CN) of `partner`'s bridge at our broker."""
    return f"bridge-{partner}"


# -- files -----------------------------------------------------------------------------------


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path} is not an EC private key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    return x509.Name(attrs)


# -- the index of issued certificates ----------------------------------------------------------


def read_index(pki: Pki) -> dict[str, dict[str, object]]:
    """serial (decimal string) -> {"name", "role", "revoked"}."""
    if not pki.index.exists():
        return {}
    data: dict[str, dict[str, object]] = json.loads(pki.index.read_text())
    return data


def _record(pki: Pki, cert: x509.Certificate, name: str, role: str) -> None:
    index = read_index(pki)
    index[str(cert.serial_number)] = {"name": name, "role": role, "revoked": False}
    _write(pki.index, json.dumps(index, indent=1, sort_keys=True).encode())


def issued_identities(pki: Pki) -> dict[str, str]:
    """name -> role of every certificate issued here and not revoked."""
    return {str(e["name"]): str(e["role"]) for e in read_index(pki).values() if not e["revoked"]}


# -- the CA --------------------------------------------------------------------------------------


def init(pki: Pki, node_id: str, server_names: list[str]) -> bool:
    """Create the CA unless it exists, (re)issue the broker's server certificate if its names
    changed, and re-sign the CRL. True if the CA was created."""
    created = not pki.exists()
    if created:
        key = _new_key()
        name = _name(f"mdx {node_id} CA")
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        _write(pki.ca_key, _key_pem(key), private=True)
        _write(pki.ca_cert, _pem(cert))
    names = sorted({"127.0.0.1", "localhost", *server_names})
    if not pki.server_cert.exists() or _sans(_load_cert(pki.server_cert)) != names:
        key = _new_key()
        cert = _sign(pki, key.public_key(), node_id, "broker", names, server=True)
        _write(pki.server_key, _key_pem(key), private=True)
        _write(pki.server_cert, _pem(cert))
    if _crl_due(pki):
        write_crl(pki)
    return created


def _crl_due(pki: Pki) -> bool:
    """Whether the CRL is missing or past half its life (re-signing it would change the file,
    and a running node restarts its broker when it does)."""
    if not pki.crl.exists():
        return True
    crl = x509.load_pem_x509_crl(pki.crl.read_bytes())
    next_update = crl.next_update_utc
    return next_update is None or next_update - _now() < dt.timedelta(days=CRL_DAYS / 2)


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return sorted([*names, *ext.get_values_for_type(x509.DNSName)])


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _sign(
    pki: Pki,
    public_key: ec.EllipticCurvePublicKey,
    cn: str,
    role: str,
    sans: list[str] | None = None,
    server: bool = False,
) -> x509.Certificate:
    if not pki.exists():
        raise PkiError(f"no CA in {pki.dir}: run `mdx pki init` first")
    ca_key, ca_cert = _load_key(pki.ca_key), _load_cert(pki.ca_cert)
    now = _now()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, role))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in sans]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    if not server:
        _record(pki, cert, cn, role)
    return cert


def issue(pki: Pki, name: str, role: Role) -> tuple[Path, Path]:
    """A new key and client certificate for identity `name`: (certificate, key) paths."""
    if role not in ROLES:
        raise PkiError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    key = _new_key()
    cert = _sign(pki, key.public_key(), name, role)
    cert_path, key_path = pki.issued(name)
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, _pem(cert))
    return cert_path, key_path


def renew(pki: Pki, name: str) -> tuple[Path, Path, int]:
    """A new key and certificate for `name` with the role it holds, and its older certificates
    revoked (the CRL re-signed): (certificate, key, how many were revoked). Renew before the
    old one expires; its holder switches to the new files, and a running node restarts its
    broker with the new CRL, which cuts any connection still on the old one."""
    held = {e["role"] for e in read_index(pki).values() if e["name"] == name and not e["revoked"]}
    if len(held) != 1:
        raise PkiError(f"{name} holds no valid certificate of this CA to renew: `mdx pki issue`")
    [role] = held
    cert_path, key_path = issue(pki, name, role)  # type: ignore[arg-type]  # from the index
    return cert_path, key_path, revoke(pki, name, keep=_load_cert(cert_path).serial_number)


def revoke(pki: Pki, name: str, keep: int | None = None) -> int:
    """Revoke every certificate issued to `name` (but the one with serial `keep`) and re-sign
    the CRL; how many were revoked."""
    index = read_index(pki)
    hits = [
        s for s, e in index.items() if e["name"] == name and not e["revoked"] and s != str(keep)
    ]
    for serial in hits:
        index[serial]["revoked"] = True
    if hits:
        _write(pki.index, json.dumps(index, indent=1, sort_keys=True).encode())
    write_crl(pki)
    return len(hits)


def write_crl(pki: Pki) -> None:
    ca_key, ca_cert = _load_key(pki.ca_key), _load_cert(pki.ca_cert)
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=CRL_DAYS))
    )
    for serial, entry in sorted(read_index(pki).items()):
        if entry["revoked"]:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial))
                .revocation_date(now)
                .build()
            )
    _write(pki.crl, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


# -- partners --------------------------------------------------------------------------------------


def make_csr(pki: Pki, me: str, partner: str) -> Path:
    """Our bridge's key for `partner` (kept) and the CSR to send it; returns the CSR's path."""
    _cert, key_path, _ca = pki.partner_files(partner)
    key = _load_key(key_path) if key_path.exists() else _new_key()
    if not key_path.exists():
        _write(key_path, _key_pem(key), private=True)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(bridge_identity(me), "bridge"))
        .sign(key, hashes.SHA256())
    )
    csr_path = key_path.with_suffix(".csr")
    _write(csr_path, csr.public_bytes(serialization.Encoding.PEM))
    return csr_path


def sign_partner(pki: Pki, csr_pem: bytes, partner: str) -> bytes:
    """A client certificate from our CA for `partner`'s bridge: CN `bridge-{partner}`, whatever
    the CSR asked for (the CSR contributes its public key, nothing else)."""
    csr = x509.load_pem_x509_csr(csr_pem)
    if not csr.is_signature_valid:
        raise PkiError("the CSR's signature does not verify")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise PkiError("the CSR's key is not an EC key")
    return _pem(_sign(pki, public_key, bridge_identity(partner), "bridge"))


def link_local(a: Pki, a_id: str, b: Pki, b_id: str) -> bool:
    """The csr / sign / accept exchange in both directions between two nodes whose folders are
    both at hand (a demo network on one machine). Kept where already done with the partner's
    current CA; True if anything was issued."""
    done = False
    for own, me, theirs, partner in ((a, a_id, b, b_id), (b, b_id, a, a_id)):
        cert_path, _key, ca_path = own.partner_files(partner)
        if cert_path.exists() and ca_path.read_bytes() == theirs.ca_cert.read_bytes():
            continue
        csr = make_csr(own, me, partner)
        accept(
            own, partner, sign_partner(theirs, csr.read_bytes(), me), theirs.ca_cert.read_bytes()
        )
        done = True
    return done


def accept(pki: Pki, partner: str, cert_pem: bytes, partner_ca_pem: bytes) -> None:
    """Keep what `partner` issued to our bridge, after checking it matches our key and that
    the partner's CA signed it."""
    cert_path, key_path, ca_path = pki.partner_files(partner)
    if not key_path.exists():
        raise PkiError(f"no bridge key for {partner}: run `mdx pki csr --partner {partner}`")
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(partner_ca_pem)
    if cert.public_key() != _load_key(key_path).public_key():
        raise PkiError(f"the certificate is not for our bridge key {key_path}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise PkiError(f"the certificate was not issued by that CA: {e}") from None
    _write(cert_path, cert_pem)
    _write(ca_path, partner_ca_pem)
