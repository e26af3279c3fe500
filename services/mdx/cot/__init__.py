"""Cursor-on-Target for TAK clients: the node's incidents and vessels as CoT events
(`mapping`), read under the releasability policy (`picture`), streamed over TCP and TLS the
way TAK servers stream (`server`, `mdx cot serve`)."""
