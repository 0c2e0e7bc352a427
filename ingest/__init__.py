"""The TikTok LIVE ingester (built in a later change)."""
