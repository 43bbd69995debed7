"""freqtrade loads strategies by class name from this folder; the code lives in the package.

freqtrade only picks up classes defined in the file itself, hence the one-line subclass.
"""

from freqtrade_smartfolio.adapter.strategy import SmartPortfolio as _SmartPortfolio


class SmartPortfolio(_SmartPortfolio):
    """Keeps a portfolio at its target weights: see the `smartfolio` section of the config."""
