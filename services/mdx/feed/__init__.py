"""The AIS TCP feed service: NMEA 0183 lines from a TCP feed -> the node's broker.

One process per feed (`mdx feed run --producer P`): it connects to a receiver or aggregator
(or listens for senders), splits what arrives into lines and publishes them in batches on
`mdx/v1/in/{producer}/ais`. It does not decode AIS: ingest does (mdx.ais).
"""
