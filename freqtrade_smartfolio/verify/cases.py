"""Windows of real data for :func:`.parity.compare`: ordinary portfolios and rules (:data:`CASES`) and
markets at the edges (:data:`EDGE_CASES`). ``benchmarks/engine_parity.py`` prints both (docs/engine.md)."""

from __future__ import annotations

from freqtrade_smartfolio.verify.parity import Case

CASES = [
    Case(
        "BTC ETH 50/50, every 1d",
        {"BTC": 50, "ETH": 50},
        {"mode": "scheduled", "interval": "1d"},
        "1h",
        "20240101",
        "20240401",
    ),
    Case(
        "3 majors, 2% band",
        {"BTC": 40, "ETH": 30, "SOL": 30},
        {"mode": "proportional", "threshold": 2},
        "1h",
        "20240101",
        "20240201",
    ),
    Case(
        "5 majors + 10% cash, 5% band",
        {"BTC": 30, "ETH": 25, "BNB": 15, "SOL": 10, "XRP": 10, "USDT": 10},
        {"mode": "proportional", "threshold": 5},
        "1d",
        "20210101",
        "20250901",
    ),
    Case(
        "6 coins, 4% band or every 1w",
        {"BTC": 25, "ETH": 20, "SOL": 15, "XRP": 15, "DOGE": 15, "LINK": 10},
        {"mode": "both", "threshold": 4, "interval": "1w"},
        "1d",
        "20240101",
        "20240901",
    ),
    Case(
        "10 coins, 1.5% band",
        {c: 10 for c in ("BTC", "ETH", "SOL", "XRP", "DOGE", "LINK", "AVAX", "LTC", "TRX", "UNI")},
        {"mode": "proportional", "threshold": 1.5},
        "1h",
        "20240101",
        "20240501",
        investment=5000,
    ),
    Case(
        "4 majors, 25% relative band, every 3d",
        {"BTC": 40, "ETH": 30, "SOL": 20, "XRP": 10},
        {"mode": "both", "threshold": 25, "band": "relative", "interval": "3d"},
        "1h",
        "20240101",
        "20240301",
    ),
]


# Markets at the edges: a coin listed inside the window, a coin whose candles end inside it, and a
# window across an exchange tick change (BNB 0.1 -> 0.01 in Nov 2024: trades opened in October keep
# the 0.1 precision, so a sale priced at a November open rounded to 0.1 can fall outside the candle
# and stay unfilled).
TICK_CHANGE = Case(
    "BTC BNB 50/50 across BNB's tick change, 1% band",
    {"BTC": 50, "BNB": 50},
    {"mode": "proportional", "threshold": 1},
    "1h",
    "20241015",
    "20241201",
    investment=10000,
)
EDGE_CASES = [
    Case(
        "BTC ETH ENA, ENA listed 2024-04-02, 5% band",
        {"BTC": 40, "ETH": 30, "ENA": 30},
        {"mode": "proportional", "threshold": 5},
        "1h",
        "20240301",
        "20240501",
    ),
    Case(
        "BTC ETH SOL, SOL's candles end 2024-04-15 12:00, 2% band",
        {"BTC": 40, "ETH": 30, "SOL": 30},
        {"mode": "proportional", "threshold": 2},
        "1h",
        "20240301",
        "20240501",
        cut={"SOL": "2024-04-15T12:00"},
    ),
    TICK_CHANGE,
    Case(
        "BTC ETH BNB across BNB's tick change, 2% band",
        {"BTC": 40, "ETH": 30, "BNB": 30},
        {"mode": "proportional", "threshold": 2},
        "1h",
        "20241001",
        "20241215",
    ),
]
