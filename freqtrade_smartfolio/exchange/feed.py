"""Klines, prices, tickers and books behind the offline exchange (numpy only, no HTTP, no freqtrade).

The candle files are :mod:`.candles`, the clocks :mod:`.clock` (both re-exported here).

Two clocks:

* historical (default): the clock stands at the end of the data. Every candle is served with its
  own date; tickers and books show each coin's last close. For backtesting and download-data.
* replay: ``data_time = replay_from + (wall_time - start) * speed`` (origins snapped to whole hours,
  see :class:`Clock`). A served candle of interval
  ``I`` opening at wall time ``s`` holds the real data of ``[data_time(s), data_time(s) + I*speed)``
  (one real candle when ``I*speed`` is a data timeframe, otherwise several aggregated). So served
  candles always carry present-day dates on freqtrade's own timeframe grid and the newest closed one
  is never stale, while the market underneath moves ``speed`` times faster than real time.
  ``I*speed`` must be a multiple of a timeframe in the data folder (5m data and ``speed=60`` make
  every 1m candle one real hour: 12 real 5m candles).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from freqtrade_smartfolio.exchange.candles import Candles, CandleStore, Series, aggregate
from freqtrade_smartfolio.exchange.clock import (
    ALIGN_MS,
    DAY_MS,
    MAX_ROWS_PER_CANDLE,
    MINUTE_MS,
    Clock,
    FeedError,
    grid_offset,
    parse_time,
    timeframe_ms,
    wall_ms,
)
from freqtrade_smartfolio.exchange.markets import MarketRules

__all__ = [
    "ALIGN_MS",
    "CandleStore",
    "Candles",
    "Clock",
    "Feed",
    "FeedError",
    "Series",
    "parse_time",
    "timeframe_ms",
    "wall_ms",
]


class Feed:
    """Klines, prices, tickers and order books of a :class:`CandleStore`'s coins under a :class:`Clock`."""

    def __init__(self, store: CandleStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or Clock()
        # coin -> when its market closes (a delisting, see .delisting): no candle opens from then on
        # and the price stays at the last close (data time on the replay clock)
        self.market_close: dict[str, int] = {}
        if self.clock.replay and self.clock.replay_from_ms is not None:
            self._check_replay_start(self.clock.replay_from_ms)

    def _check_replay_start(self, start_ms: int) -> None:
        spans = [(s.start, s.end) for coin in self.store.coins for s in self._first_series(coin)]
        if spans and not any(a <= start_ms < b for a, b in spans):
            first = datetime.fromtimestamp(min(a for a, _ in spans) / 1000, tz=UTC).isoformat()
            last = datetime.fromtimestamp(max(b for _, b in spans) / 1000, tz=UTC).isoformat()
            raise ValueError(
                f"replay_from={datetime.fromtimestamp(start_ms / 1000, tz=UTC).isoformat()} is outside "
                f"the data ({first} to {last}); pick a start inside that range"
            )

    def _first_series(self, coin: str) -> list[Series]:
        tfs = self.store.timeframes(coin)
        return [self.store.series(coin, tf) for tf in tfs][:1]

    # ---- symbols -------------------------------------------------------------------------------
    def coin_of(self, symbol: str) -> str:
        """``BTCUSDT`` -> ``BTC``; raises :class:`FeedError` (-1121) for unknown symbols."""
        quote = self.store.quote
        if symbol.endswith(quote) and self.store.has(symbol[: -len(quote)]):
            return symbol[: -len(quote)]
        raise FeedError(f"Invalid symbol {symbol!r}.", code=-1121)

    # ---- candles -------------------------------------------------------------------------------
    def _sources(self, coin: str, span: int) -> list[Series]:
        """Candle files able to build groups of ``span`` ms, best first."""
        tfs = [(tf, ms) for tf, ms in self.store.timeframes(coin).items() if span % ms == 0]
        if not tfs:
            have = ", ".join(self.store.timeframes(coin)) or "none"
            raise FeedError(
                f"Invalid interval: {span / MINUTE_MS:g} minutes of data per candle (interval x speed) "
                f"cannot be built from the {coin} files ({have}); choose an interval/speed whose product "
                "is a multiple of a data timeframe",
                code=-1120,
            )
        exact = [tf for tf, ms in tfs if ms == span]
        if self.clock.replay:
            fine = sorted((ms, tf) for tf, ms in tfs if span // ms <= MAX_ROWS_PER_CANDLE)
            coarse = sorted(((ms, tf) for tf, ms in tfs if span // ms > MAX_ROWS_PER_CANDLE), reverse=True)
            order = [tf for _, tf in fine + coarse]
        else:
            order = exact + [tf for _, tf in sorted(((ms, tf) for tf, ms in tfs if ms != span), reverse=True)]
        return [self.store.series(coin, tf) for tf in order]

    def _groups(self, coin: str, data_starts: np.ndarray, span: int, cutoff: float) -> tuple[np.ndarray, ...]:
        """OHLCV of data groups, each from the best file covering it (files differ in history length)."""
        n = len(data_starts)
        result = [np.full(n, np.nan) for _ in range(6)]
        rows = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        sources = self._sources(coin, span)
        for strict in (True, False):
            for s in sources:
                if done.all():
                    break
                *vals, count = aggregate(s, data_starts, span, cutoff)
                take = ~done & (count > 0)
                if strict:
                    take &= (data_starts >= s.start) & (np.minimum(data_starts + span, cutoff) <= s.end)
                for dst, src in zip(result, vals, strict=True):
                    dst[take] = src[take]
                rows[take] = count[take]
                done |= take
        return (*result, rows)

    def data_end(self, coin: str) -> int:
        """End of the coin's data (close time of its last candle over all files), or when its market
        closes (a delisting), whichever comes first."""
        end = max(s.end for s in self.store.all_series(coin))
        return min(end, self.market_close.get(coin, end))

    def data_start(self, coin: str) -> int:
        return min(s.start for s in self.store.all_series(coin))

    def klines(
        self,
        coin: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> Candles:
        """Served candles of ``interval`` with Binance's startTime/endTime/limit semantics.

        Only candles that opened by the clock's now are served; the newest may still be open.
        """
        step = timeframe_ms(interval)
        span_f = step * self.clock.speed if self.clock.replay else float(step)
        span = round(span_f)
        if abs(span - span_f) > 1e-6:
            raise FeedError(
                f"Invalid interval {interval!r} at speed {self.clock.speed:g}: not whole ms", -1120
            )
        limit = max(1, min(int(limit), 1000))
        offset = grid_offset(step)
        clock = self.clock
        if clock.replay:
            served_now = clock.now()
            cutoff = min(clock.data_now(), self.market_close.get(coin, math.inf) - 1)
            # candles after the end of data (or the market's close) are never formed
            served_now = min(served_now, math.floor(clock.to_served(self.data_end(coin))) - 1)
        else:
            served_now = self.data_end(coin) - 1
            cutoff = math.inf
        last_open = (served_now - offset) // step * step + offset
        first_avail = (math.floor(clock.to_served(self.data_start(coin))) - offset) // step * step + offset
        if start_ms is not None:
            first = max(-((offset - start_ms) // step) * step + offset, first_avail)
            last = last_open if end_ms is None else min(last_open, (end_ms - offset) // step * step + offset)
            last = min(last, first + (limit - 1) * step)
        else:
            last = last_open if end_ms is None else min(last_open, (end_ms - offset) // step * step + offset)
            first = max(last - (limit - 1) * step, first_avail)
        if last < first:
            empty = np.zeros(0)
            return Candles(
                empty.astype(np.int64), empty, empty, empty, empty, empty, empty, empty.astype(int)
            )
        served = np.arange(first, last + 1, step, dtype=np.int64)
        data0 = round(clock.to_data(float(served[0])))
        data_starts = data0 + span * np.arange(len(served), dtype=np.int64)
        o, h, low, c, v, qv, rows = self._groups(coin, data_starts, span, cutoff)
        keep = rows > 0
        tick = self.store.rules(coin).tick_size

        def snap(a: np.ndarray) -> np.ndarray:
            return np.round(a[keep] / tick) * tick

        return Candles(served[keep], snap(o), snap(h), snap(low), snap(c), v[keep], qv[keep], rows[keep])

    # ---- prices --------------------------------------------------------------------------------
    def price(self, coin: str) -> float:
        """Last traded price at the clock's now (interpolated open->close within the current real candle);
        after a delisting, the last price before it."""
        now = min(self.clock.data_now(), self.market_close.get(coin, math.inf) - 1)
        files = sorted(self.store.all_series(coin), key=lambda x: x.tf_ms)
        live = [s for s in files if s.start <= now < s.end]
        if live:
            s = live[0]
            idx = int(np.searchsorted(s.t, now, "right")) - 1
            frac = max(0.0, min(1.0, (now - s.t[idx]) / s.tf_ms))
            value = float(s.o[idx] + frac * (s.c[idx] - s.o[idx]))
        else:
            ended = [s for s in files if s.end <= now]
            if not ended:
                raise FeedError(
                    f"No price for {coin}{self.store.quote} yet: the replay clock is before its first candle",
                    code=-1121,
                )
            value = float(max(ended, key=lambda x: (x.end, -x.tf_ms)).c[-1])
        return self.store.rules(coin).round_price(value)

    def stats_24h(self, coin: str) -> dict[str, float]:
        """Open/high/low/last/volume over the 24 data hours up to now."""
        now = self.clock.data_now()
        end = self.data_end(coin) if not math.isfinite(now) else now
        start = np.array([math.floor(end) - DAY_MS], dtype=np.int64)
        cutoff = min(end, self.market_close.get(coin, math.inf) - 1)  # nothing trades after a delisting
        o, h, low, _c, v, qv, rows = self._groups(coin, start, DAY_MS, cutoff)
        last = self.price(coin)
        if rows[0] == 0:
            return {"open": last, "high": last, "low": last, "last": last, "volume": 0.0, "quote_volume": 0.0}
        rules = self.store.rules(coin)
        return {
            "open": rules.round_price(float(o[0])),
            "high": rules.round_price(max(float(h[0]), last)),
            "low": rules.round_price(min(float(low[0]), last)),
            "last": last,
            "volume": float(v[0]),
            "quote_volume": float(qv[0]),
        }

    def book(self, coin: str, levels: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Synthetic order book: best bid at the last price, best ask one tick above, ``levels`` a side."""
        rules = self.store.rules(coin)
        last = self.price(coin)
        tick = rules.tick_size
        bid0 = max(last, tick)
        bids, asks = [], []
        for i in range(levels):
            notional = 2_000.0 * (1.0 + ((i * 7919 + 3) % 11) / 5.0)  # 2k-6k USDT per level
            bid = round(bid0 - i * tick, rules.price_decimals)
            ask = round(bid0 + (i + 1) * tick, rules.price_decimals)
            if bid > 0:
                bids.append((bid, self._qty(notional / bid, rules)))
            asks.append((ask, self._qty(notional / ask, rules)))
        return bids, asks

    @staticmethod
    def _qty(amount: float, rules: MarketRules) -> float:
        return max(
            round(round(amount / rules.step_size) * rules.step_size, rules.amount_decimals), rules.min_qty
        )
