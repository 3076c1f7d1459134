"""Exchange data: OHLCV bar ingest and 180-minute windows."""
