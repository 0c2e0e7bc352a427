"""The local TikTok LIVE emulator the tests and benchmarks run the real TikTokLive client against.

A test fake, so it lives with the tests: `python -m tests.tiktok_emulator --help`.
"""

from tests.tiktok_emulator.server import DEFAULT_SCRIPT, TikTokLiveEmulator

__all__ = ["DEFAULT_SCRIPT", "TikTokLiveEmulator"]
