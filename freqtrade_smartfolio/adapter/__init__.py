"""freqtrade-facing adapter: the strategy and its helpers."""
