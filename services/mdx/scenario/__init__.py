"""Scenarios: scripted stories run against a network of nodes and checked as they unfold
(`mdx scenario run`; the format in docs/scenarios.md, the shipped ones in scenarios/)."""
