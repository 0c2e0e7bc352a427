"""Benchmarks: each prints its figures; none asserts a time (machines here are shared and noisy)."""
