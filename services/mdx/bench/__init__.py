"""Benchmarks against a real node, measured beside the machine's raw limits in the same run."""
