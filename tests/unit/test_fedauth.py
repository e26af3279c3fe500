"""Partner request signatures: what verifies, and each reason a request is refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core import fedauth, keys
from mdx.core.fedauth import AuthRejected, sign_request, verify_request
from mdx.core.settings import NodeSettings

NOW = 1_750_000_000.0
PATH = "/api/v1/incidents?limit=10&bbox=139,35,140,36"
KCG = Ed25519PrivateKey.generate()
USCG = Ed25519PrivateKey.generate()
TRUSTED: dict[str, Ed25519PublicKey] = {"kcg": KCG.public_key(), "uscg": USCG.public_key()}


def header(
    node: str = "kcg",
    key: Ed25519PrivateKey = KCG,
    *,
    method: str = "GET",
    path: str = PATH,
    recipient: str = "jcg",
    at: float = NOW,
) -> str:
    return sign_request(method, path, node, recipient, key, at)


def verify(value: str, *, method: str = "GET", path: str = PATH, now: float = NOW) -> str:
    return verify_request(value, method, path, "jcg", TRUSTED, now)


def rejected(
    value: str, reason: str, *, method: str = "GET", path: str = PATH, now: float = NOW
) -> AuthRejected:
    with pytest.raises(AuthRejected) as caught:
        verify(value, method=method, path=path, now=now)
    assert caught.value.reason == reason, caught.value
    return caught.value


def test_round_trip_names_the_signing_node() -> None:
    value = header()
    assert value.startswith(f"MDX-Ed25519 node=kcg, ts={int(NOW)}, sig=")
    assert "=" not in value.rsplit("sig=", 1)[1]  # base64url without padding
    assert verify(value) == "kcg"
    assert verify(header("uscg", USCG)) == "uscg"


def test_scheme_name_is_case_insensitive() -> None:
    assert verify(header().replace("MDX-Ed25519", "mdx-ed25519", 1)) == "kcg"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer abc",
        "MDX-Ed25519",
        "MDX-Ed25519 node=kcg, ts=1750000000",
        "MDX-Ed25519 node=kcg,ts=1750000000,sig=" + "A" * 86,  # spacing is part of the format
        "MDX-Ed25519 ts=1750000000, node=kcg, sig=" + "A" * 86,  # so is the order
        "MDX-Ed25519 node=kcg, ts=-5, sig=" + "A" * 86,
        "MDX-Ed25519 node=kcg, ts=1750000000.5, sig=" + "A" * 86,
        "MDX-Ed25519 node=kcg, ts=1750000000, sig=" + "A" * 85,  # not 64 bytes
        "MDX-Ed25519 node=kcg, ts=1750000000, sig=" + "A" * 84 + "==",  # padded
        "MDX-Ed25519 node=KCG, ts=1750000000, sig=" + "A" * 86,
        "Basic node=kcg, ts=1750000000, sig=" + "A" * 86,
    ],
)
def test_malformed_headers(value: str) -> None:
    rejected(value, AuthRejected.MALFORMED)


def test_unknown_node() -> None:
    error = rejected(header("other", Ed25519PrivateKey.generate()), AuthRejected.UNKNOWN_NODE)
    assert "'other'" in error.detail


def test_claiming_another_nodes_id_is_a_bad_signature() -> None:
    rejected(header("uscg", KCG), AuthRejected.BAD_SIGNATURE)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", PATH),
        ("GET", "/api/v1/incidents?limit=11&bbox=139,35,140,36"),
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/deadletters?limit=10&bbox=139,35,140,36"),
    ],
    ids=["method", "query", "query-dropped", "path"],
)
def test_a_signature_covers_method_and_path_with_query(method: str, path: str) -> None:
    rejected(header(), AuthRejected.BAD_SIGNATURE, method=method, path=path)


def test_a_tampered_signature_or_timestamp_is_refused() -> None:
    value = header()
    head, sig = value.rsplit("sig=", 1)
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    rejected(f"{head}sig={flipped}", AuthRejected.BAD_SIGNATURE)
    # A later ts (still fresh) with the old signature does not verify either.
    rejected(value.replace(f"ts={int(NOW)}", f"ts={int(NOW) + 1}"), AuthRejected.BAD_SIGNATURE)


def test_a_signature_for_another_recipient_is_refused() -> None:
    for_uscg = header(recipient="uscg")
    assert verify_request(for_uscg, "GET", PATH, "uscg", {"kcg": KCG.public_key()}, NOW) == "kcg"
    rejected(for_uscg, AuthRejected.BAD_SIGNATURE)


def test_replay_within_the_skew_passes_and_outside_is_refused() -> None:
    value = header()
    assert verify(value, now=NOW + 300) == "kcg"
    assert verify(value, now=NOW - 300) == "kcg"
    error = rejected(value, AuthRejected.STALE, now=NOW + 301)
    assert "300 s" in error.detail
    rejected(value, AuthRejected.FUTURE, now=NOW - 301)


def test_stale_or_future_when_signed_at_a_wrong_time() -> None:
    rejected(header(at=NOW - 3600), AuthRejected.STALE)
    rejected(header(at=NOW + 3600), AuthRejected.FUTURE)
    assert verify_request(header(at=NOW - 50), "GET", PATH, "jcg", TRUSTED, NOW, 60) == "kcg"
    with pytest.raises(AuthRejected, match="stale"):
        verify_request(header(at=NOW - 61), "GET", PATH, "jcg", TRUSTED, NOW, 60)


def test_trust_store_skips_partners_without_a_readable_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kcg = keys.generate(tmp_path / "kcg.key")
    (tmp_path / "bad.pub").write_text("not a key")

    def partner(id_: str, public_key: Path) -> dict[str, object]:
        return {"id": id_, "broker_port": 1, "api_url": "http://x", "public_key": public_key}

    settings = NodeSettings(
        node={"id": "jcg", "signing_key": tmp_path / "absent.key"},
        partners=[
            partner("kcg", tmp_path / "kcg.pub"),
            partner("uscg", tmp_path / "uscg.pub"),
            partner("rok", tmp_path / "bad.pub"),
        ],
    )
    with caplog.at_level(logging.WARNING, "mdx.fedauth"):
        trusted = fedauth.trust_store(settings)
    assert list(trusted) == ["kcg"]
    assert keys.public_pem(trusted["kcg"]) == keys.public_pem(kcg.public_key())
    warned = sorted(r.getMessage().split(" ")[1] for r in caplog.records)
    assert warned == ["rok", "uscg"]
