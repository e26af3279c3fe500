"""`mdx pki` (the node's CA: certificates for MQTT over TLS) and `mdx mqtt` (its identities
and ACL). What they write is described in mdx.node.pki and mdx.node.acl."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mdx.cli.options import ConfigOption, settings_of

pki_app = typer.Typer(
    help="The node's certificate authority: TLS certificates for MQTT identities.",
    no_args_is_help=True,
)
mqtt_app = typer.Typer(help="The node's MQTT identities and ACL.", no_args_is_help=True)
console = Console(stderr=True)

PartnerOption = Annotated[str, typer.Option("--partner", help="The partner node's id.")]


_settings = settings_of


def _say(message: str) -> None:
    console.print(message, markup=False, soft_wrap=True)


@pki_app.command("init")
def pki_init(config: ConfigOption = None) -> None:
    """Create the node's CA and its broker's server certificate (kept if they exist)."""
    from mdx.node import pki, security

    settings = _settings(config)
    ca = pki.Pki.of(settings.broker.security_dir)
    created = pki.init(ca, settings.node.id, security.server_names(settings))
    _say(f"{'created' if created else 'kept'} the CA {ca.ca_cert}; server: {ca.server_cert}")


@pki_app.command("issue")
def pki_issue(
    name: Annotated[str, typer.Argument(help="The identity: the certificate's CN.")],
    role: Annotated[str, typer.Option(help="producer, console, service or bridge.")] = "producer",
    config: ConfigOption = None,
) -> None:
    """Issue a client certificate and key for an identity (the TLS listener's username)."""
    from mdx.node import acl, pki

    if role not in pki.ROLES:
        raise typer.BadParameter(f"one of {', '.join(pki.ROLES)}", param_hint="--role")
    settings = _settings(config)
    # The CN is the identity: a certificate must not make its holder someone else's kind.
    known = {i.name: i.kind for i in acl.identities(settings)}
    if name in known and known[name] != role:
        raise typer.BadParameter(f"{name} is a {known[name]} of this node", param_hint="NAME")
    ca = pki.Pki.of(settings.broker.security_dir)
    try:
        cert, key = pki.issue(ca, name, role)  # type: ignore[arg-type]  # checked above
    except pki.PkiError as e:
        raise typer.BadParameter(str(e)) from None
    _say(f"issued {cert} (key {key}); give both and {ca.ca_cert} to {name}")


@pki_app.command("renew")
def pki_renew(
    name: Annotated[str, typer.Argument(help="The identity whose certificate to renew.")],
    config: ConfigOption = None,
) -> None:
    """Issue a new certificate and key for an identity, with its role, and revoke its older
    ones (do it before the old one expires: certificates last 825 days)."""
    from mdx.node import pki

    ca = pki.Pki.of(_settings(config).broker.security_dir)
    try:
        cert, key, revoked = pki.renew(ca, name)
    except pki.PkiError as e:
        raise typer.BadParameter(str(e), param_hint="NAME") from None
    _say(f"issued {cert} (key {key}) and revoked {revoked} older certificate(s) of {name}")


@pki_app.command("revoke")
def pki_revoke(
    name: Annotated[str, typer.Argument(help="The identity whose certificates to revoke.")],
    config: ConfigOption = None,
) -> None:
    """Revoke every certificate of an identity; a running node restarts its broker with the
    new CRL, which also cuts the holder's open connection."""
    from mdx.node import pki

    ca = pki.Pki.of(_settings(config).broker.security_dir)
    count = pki.revoke(ca, name)
    _say(f"revoked {count} certificate(s) of {name}; CRL {ca.crl}")
    if not count:
        raise typer.Exit(1)


@pki_app.command("csr")
def pki_csr(partner: PartnerOption, config: ConfigOption = None) -> None:
    """Our bridge's key for a partner and the CSR to send it (it signs with `mdx pki sign`)."""
    from mdx.node import pki

    settings = _settings(config)
    csr = pki.make_csr(pki.Pki.of(settings.broker.security_dir), settings.node.id, partner)
    _say(f"send {csr} to {partner}")


@pki_app.command("sign")
def pki_sign(
    csr: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The partner's CSR.")],
    as_partner: Annotated[
        str, typer.Option("--as-partner", help="The partner it comes from (CN bridge-ID).")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the certificate.")],
    config: ConfigOption = None,
) -> None:
    """Sign a partner's bridge CSR with our CA (CN fixed to bridge-ID, whatever it asked)."""
    from mdx.node import pki

    settings = _settings(config)
    if settings.partner(as_partner) is None:
        raise typer.BadParameter(
            f"{as_partner} is not a partner in the config", param_hint="--as-partner"
        )
    ca = pki.Pki.of(settings.broker.security_dir)
    try:
        cert = pki.sign_partner(ca, csr.read_bytes(), as_partner)
    except (pki.PkiError, ValueError) as e:
        raise typer.BadParameter(str(e)) from None
    out.write_bytes(cert)
    _say(f"wrote {out}; send it and {ca.ca_cert} to {as_partner}")


@pki_app.command("accept")
def pki_accept(
    partner: PartnerOption,
    cert: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="From the partner.")],
    ca: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="The partner's CA certificate.")
    ],
    config: ConfigOption = None,
) -> None:
    """Keep the certificate a partner's CA issued to our bridge, with that CA."""
    from mdx.node import pki

    own = pki.Pki.of(_settings(config).broker.security_dir)
    try:
        pki.accept(own, partner, cert.read_bytes(), ca.read_bytes())
    except (pki.PkiError, ValueError) as e:
        raise typer.BadParameter(str(e)) from None
    _say(f"the bridge to {partner} will use {own.partner_files(partner)[0]}")


@pki_app.command("link")
def pki_link(
    partner_config: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="The partner node's config file."),
    ],
    config: ConfigOption = None,
) -> None:
    """For nodes on one machine (the demo): csr, sign and accept both ways at once, with each
    node's CA (created if missing). Between real coast guards the files go out of band."""
    from mdx.node import pki, security

    mine, theirs = _settings(config), settings_of(partner_config)
    own, other = (pki.Pki.of(s.broker.security_dir) for s in (mine, theirs))
    pki.init(own, mine.node.id, security.server_names(mine))
    pki.init(other, theirs.node.id, security.server_names(theirs))
    issued = pki.link_local(own, mine.node.id, other, theirs.node.id)
    _say(f"{mine.node.id} <-> {theirs.node.id}: {'issued' if issued else 'kept'}")


@mqtt_app.command("prepare")
def mqtt_prepare(
    config: ConfigOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to write them (default: [broker] data_dir/auth).")
    ] = None,
    shared: Annotated[
        bool, typer.Option(help="Readable by all (a broker in another container).")
    ] = False,
) -> None:
    """Write the broker's password file (mosquitto_passwd), ACL and TLS files, as
    `mdx node run` does before it starts the broker."""
    from mdx.node import security

    auth = security.prepare(_settings(config), out=out, shared=shared)
    _say(f"wrote {auth.password_file}, {auth.acl_file} and the TLS files in {auth.dir}")


@mqtt_app.command("acl")
def mqtt_acl(config: ConfigOption = None) -> None:
    """Print the broker's ACL, generated from the config and the issued certificates."""
    from mdx.node import acl

    typer.echo(acl.render(_settings(config)), nl=False)
