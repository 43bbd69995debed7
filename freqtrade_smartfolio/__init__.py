"""Smart Portfolio (rebalancing) plugin for freqtrade."""

__version__ = "0.1.0"
