"""Recording what a node receives and replaying it (`mdx record`, `mdx replay`;
docs/record-replay.md): `recording` reads and writes the file (JSON Lines, payloads byte for
byte), `recorder` writes one from the node's broker, `replayer` publishes one again on a
schedule (the recorded pace times a speed, or as fast as the broker takes it)."""
