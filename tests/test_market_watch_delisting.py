"""MarketWatch with delistings and restarts (pure): a coin announced for delisting is never brought in
as a listing, its status survives a restart through the lock's note, and a held coin without a candle
after a restart is shown as held."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from freqtrade_smartfolio.adapter.market_watch import MarketWatch

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
WHEN = datetime(2024, 2, 27, 10, tzinfo=UTC)
DELIST = datetime(2024, 3, 1, tzinfo=UTC)


def test_a_delisted_coin_is_not_brought_back_as_a_listing():
    watch = MarketWatch(PAIRS)
    watch.delisting["SOL/USDT"] = DELIST
    held = np.array([1.0, 1.0, 0.0])  # SOL sold
    messages, trigger = watch.update(WHEN, np.ones(3, dtype=bool), held, np.ones(3))
    assert trigger is None and messages == []  # after a restart: SOL trades, is not held, stays out
    note = watch.status("SOL/USDT")
    assert note == "delisting 2024-03-01 00:00 UTC: sold, not bought again"
    # its market closes: said once, as delisted
    messages, trigger = watch.update(WHEN, np.array([True, True, False]), held, np.ones(3))
    assert trigger is None
    assert messages == ["SOL has no candle at 2024-02-27 10:00: delisted, not traded any more."]


def test_the_delisting_comes_back_from_the_lock_note_after_a_restart():
    watch = MarketWatch(PAIRS)
    assert watch.restore_delisting("SOL/USDT", "delisting 2024-03-01 00:00 UTC: sold, not bought again")
    assert watch.delisting == {"SOL/USDT": DELIST}
    assert not watch.restore_delisting("ETH/USDT", "no candle: held, not traded")
    assert not watch.restore_delisting("XRP/USDT", "delisting 2024-03-01 00:00 UTC: sold, not bought again")
    assert set(watch.delisting) == {"SOL/USDT"}


def test_a_held_coin_without_a_candle_after_a_restart_is_shown_as_held():
    watch = MarketWatch(PAIRS)
    messages, _ = watch.update(WHEN, np.array([True, True, False]), np.ones(3), np.array([1.0, 2.0, 3.0]))
    assert len(messages) == 1 and messages[0].startswith("SOL has no candle at 2024-02-27 10:00 (halted")
    assert watch.status("SOL/USDT") == "no candle: held, not traded"
    fresh = MarketWatch(PAIRS)
    fresh.update(WHEN, np.array([True, True, False]), np.array([1.0, 1.0, 0.0]), np.ones(3))
    assert fresh.status("SOL/USDT") == "not trading yet"
