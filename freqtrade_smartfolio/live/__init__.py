"""Running a SmartPortfolio bot: start a dry-run on the offline exchange, and manage a running bot
through freqtrade's REST API (status, records, added investment, settings, stop).

Modules: :mod:`.connect` (REST client from a config file or flags), :mod:`.dryrun` (freqtrade
``trade --dry-run`` as a subprocess), :mod:`.status`, :mod:`.records`, :mod:`.manage`.
"""
