"""Settings of the API's authentication (`[auth]` in a node's TOML, `MDX_AUTH__*` in the
environment): the key that signs operators' tokens, their lifetime, and the write rate limit.

Here rather than in mdx.api because NodeSettings (core) holds it and core imports no service.
The token key belongs in the environment (`MDX_AUTH__TOKEN_SECRET`), not in a TOML file that
is copied around; mdx.api.token_key decides whether a node may start with what it was given.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class AuthSettings(BaseModel):
    # HMAC key of the access tokens: at least 32 bytes, random. Missing on a demo node: one is
    # generated into `token_secret_file` (default var/{node id}/api-token.secret).
    token_secret: SecretStr | None = None
    token_secret_file: Path | None = None
    # Access tokens are short-lived: there is no revocation list, and a disabled account is
    # refused at once anyway (every request looks the account up).
    token_ttl_s: int = Field(default=1800, ge=60, le=24 * 3600)
    # Writes (and login attempts) per caller: a token bucket of `write_burst` tokens refilled at
    # `writes_per_minute`. Kept in the memory of each api process.
    write_burst: int = Field(default=30, ge=1)
    writes_per_minute: float = Field(default=60.0, gt=0)
