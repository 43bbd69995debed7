"""Pure portfolio math: numpy/pandas/scipy only, never imports freqtrade."""
