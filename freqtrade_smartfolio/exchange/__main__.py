"""``python -m freqtrade_smartfolio.exchange serve|start|stop|status``."""

import sys

from freqtrade_smartfolio.exchange.cli import main

sys.exit(main())
