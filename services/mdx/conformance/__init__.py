"""The partner conformance kit (`mdx conformance`): checks a node, ours or a partner's, against
the common contract over MQTT and HTTP only, as one of its partners (docs/conformance.md)."""
