"""The offline exchange: market rules, the Binance API as ccxt sees it, the replay clock, freqtrade."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest

from freqtrade_smartfolio.exchange import CandleStore, Clock, Feed, FeedError, OfflineExchange, market_rules
from freqtrade_smartfolio.exchange.feed import parse_time
from freqtrade_smartfolio.exchange.markets import amount_decimals, price_decimals
from freqtrade_smartfolio.marketdata import load_candles

VENV_BIN = Path(sys.executable).parent
COINS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "PEPE", "SHIB", "LINK"]
HOUR = 3_600_000


@pytest.fixture(scope="module")
def exchange(datadir: Path):
    with OfflineExchange(datadir, port=0) as ex:
        yield ex


@pytest.fixture(scope="module")
def binance(exchange: OfflineExchange) -> ccxt.binance:
    api = ccxt.binance(exchange.ccxt_config())
    api.load_markets()
    return api


@pytest.fixture(scope="module")
def store(datadir: Path) -> CandleStore:
    return CandleStore(datadir)


# ---- market rules -------------------------------------------------------------------------------
@pytest.mark.parametrize("coin", COINS)
def test_tick_is_the_data_grid(datadir: Path, coin: str) -> None:
    rules = market_rules(coin, datadir)
    prices = load_candles(coin, "1h", datadir)[["open", "high", "low", "close"]].to_numpy().ravel()
    snapped = np.round(prices / rules.tick_size) * rules.tick_size
    assert np.max(np.abs(snapped - prices) / prices) < 1e-9
    if rules.price_decimals > 0:  # and it is the coarsest such grid
        coarser = np.round(prices, rules.price_decimals - 1)
        assert np.max(np.abs(coarser - prices) / prices) > 1e-9
    assert rules.tick_size == float(f"1e-{rules.price_decimals}")


def test_rules_btc_like_binance(datadir: Path) -> None:
    rules = market_rules("btc", datadir)
    assert (rules.symbol, rules.base, rules.quote, rules.exchange_id) == (
        "BTC/USDT",
        "BTC",
        "USDT",
        "BTCUSDT",
    )
    assert rules.step_size == 0.00001 and rules.min_qty == rules.step_size and rules.amount_decimals == 5
    assert rules.tick_size == 0.01 and rules.min_notional == 5.0
    assert rules.maker_fee == rules.taker_fee == 0.001
    assert market_rules("BTC", datadir) is rules  # cached


@pytest.mark.parametrize("coin", COINS)
def test_step_is_worth_cents(datadir: Path, coin: str) -> None:
    rules = market_rules(coin, datadir)
    median = float(load_candles(coin, "1h", datadir)["close"].median())
    assert rules.step_size * median <= 1.0  # BTC is capped at 0.00001 (about 1 USDT)
    assert rules.step_size <= 1.0


def test_price_decimals_tolerates_float_noise() -> None:
    assert price_decimals(np.array([4.995000000000001e-05, 5e-05, 0.0])) == 8
    assert price_decimals(np.array([61234.5, 61234.56])) == 2
    assert price_decimals(np.array([2000.0, 3000.0])) == 0
    with pytest.raises(ValueError, match="max_decimals"):
        price_decimals(np.array([np.pi]), max_decimals=4)


def test_amount_decimals() -> None:
    assert amount_decimals(60_000) == 5
    assert amount_decimals(150) == 4  # 0.0001 x 150 = 0.015 USDT
    assert amount_decimals(50) == 3
    assert amount_decimals(0.5) == 1
    assert amount_decimals(1e-5) == 0
    with pytest.raises(ValueError, match="median_price"):
        amount_decimals(0)


# ---- the API through ccxt -----------------------------------------------------------------------
def test_ccxt_markets(binance: ccxt.binance, datadir: Path) -> None:
    btc = binance.market("BTC/USDT")
    assert btc["spot"] and btc["active"] and btc["id"] == "BTCUSDT"
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["amount"]["min"] == 0.00001 and btc["limits"]["cost"]["min"] == 5.0
    pepe = binance.market("PEPE/USDT")
    rules = market_rules("PEPE", datadir, timeframe=None)
    assert pepe["precision"]["price"] == rules.tick_size and pepe["precision"]["amount"] == rules.step_size
    assert binance.price_to_precision("BTC/USDT", 61234.567) == "61234.57"
    assert binance.amount_to_precision("BTC/USDT", 0.1234567) == "0.12345"
    coins = {p.name.split("_USDT-")[0] for p in datadir.glob("*_USDT-*.feather")}
    assert {m["base"] for m in binance.markets.values()} == coins


def test_ccxt_ohlcv_is_the_data(binance: ccxt.binance, datadir: Path) -> None:
    frame = load_candles("ETH", "1h", datadir)
    since = int(pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000)
    got = binance.fetch_ohlcv("ETH/USDT", "1h", since=since, limit=48)
    want = frame[frame["date"] >= pd.Timestamp("2024-03-01", tz="UTC")].head(48)
    assert [row[0] for row in got] == list(want["date"].astype("int64") // 1_000_000)
    np.testing.assert_allclose(
        np.array(got)[:, 1:], want[["open", "high", "low", "close", "volume"]].to_numpy()
    )
    # 4h has no file: aggregated from 1h on Binance's grid
    got4 = binance.fetch_ohlcv("ETH/USDT", "4h", since=since, limit=12)
    res = (
        want.set_index("date")
        .resample("4h")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    )
    np.testing.assert_allclose(np.array(got4)[:, 1:], res.to_numpy())
    # without since: the newest candles, ending with the file's last one
    latest = binance.fetch_ohlcv("ETH/USDT", "1h", limit=3)
    assert latest[-1][0] == frame["date"].iloc[-1].value // 1_000_000
    # since before listing: starts at the first candle (freqtrade's new-pair detection)
    first = binance.fetch_ohlcv("ETH/USDT", "1d", since=0, limit=2)
    assert first[0][0] == load_candles("ETH", "1d", datadir)["date"].iloc[0].value // 1_000_000


def test_ccxt_ticker_and_book(binance: ccxt.binance, datadir: Path) -> None:
    last_close = float(load_candles("SOL", "1h", datadir)["close"].iloc[-1])
    tick = market_rules("SOL", datadir, timeframe=None).tick_size
    ticker = binance.fetch_ticker("SOL/USDT")
    assert ticker["last"] == pytest.approx(last_close)
    assert ticker["ask"] - ticker["bid"] == pytest.approx(tick)
    assert ticker["low"] <= ticker["last"] <= ticker["high"] and ticker["quoteVolume"] > 0
    book = binance.fetch_order_book("SOL/USDT", 10)
    bids, asks = np.array(book["bids"]), np.array(book["asks"])
    assert len(bids) == len(asks) == 10
    assert asks[0, 0] - bids[0, 0] == pytest.approx(tick)
    assert np.all(np.diff(bids[:, 0]) < 0) and np.all(np.diff(asks[:, 0]) > 0)
    assert np.all(bids[:, 0] * bids[:, 1] >= 5.0)
    tickers = binance.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
    assert binance.fetch_bids_asks(["BTC/USDT"])["BTC/USDT"]["bid"] > 0


def test_errors_are_binance_style(exchange: OfflineExchange, binance: ccxt.binance) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{exchange.url}/sapi/v1/asset/tradeFee")
    assert err.value.code == 404
    body = json.loads(err.value.read())
    assert body["code"] < 0 and "not served" in body["msg"]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{exchange.url}/api/v3/klines?symbol=NOPEUSDT&interval=1h")
    assert err.value.code == 400 and json.loads(err.value.read())["code"] == -1121
    with pytest.raises(ccxt.BadRequest):
        binance.publicGetKlines({"symbol": "BTCUSDT", "interval": "7x"})


# ---- replay clock -------------------------------------------------------------------------------
def _replay(store: CandleStore, start: str, speed: float, wall: list[int]) -> Feed:
    return Feed(store, Clock(replay_from_ms=parse_time(start), speed=speed, now=lambda: wall[0]))


def test_replay_restamps_real_candles(store: CandleStore, datadir: Path) -> None:
    wall = [parse_time("2030-01-01T10:00:00")]  # on the hour: data clock starts exactly at replay_from
    feed = _replay(store, "2024-03-01T00:00", 12, wall)  # one served 5m candle = one real 1h candle
    assert feed.clock.data_now() == parse_time("2024-03-01T00:00")
    wall[0] += 3 * 300_000 + 150_000  # 17.5 served minutes = 3.5 data hours
    candles = feed.klines("BTC", "5m", limit=4)
    frame = load_candles("BTC", "1h", datadir).set_index("date")
    real = frame.loc["2024-02-29T23:00":"2024-03-01T02:00"]
    assert list(candles.t) == [wall[0] - 150_000 - k * 300_000 for k in (3, 2, 1, 0)]
    np.testing.assert_allclose(candles.c[:3], real["close"].to_numpy()[1:])
    np.testing.assert_allclose(candles.h[:3], real["high"].to_numpy()[1:])
    # the open candle shows the real 03:00 hour half done (built from 5m data), the ticker agrees
    fine = load_candles("BTC", "5m", datadir).set_index("date")
    half = fine.loc["2024-03-01T03:00":"2024-03-01T03:25"]
    assert candles.o[-1] == frame.loc["2024-03-01T03:00", "open"] == half["open"].iloc[0]
    assert candles.h[-1] == max(half["high"].max(), fine.loc["2024-03-01T03:30", "open"])
    assert candles.c[-1] == feed.price("BTC") == fine.loc["2024-03-01T03:30", "open"]
    wall[0] += 2_500  # 2.5 s x 12 = 30 data seconds: a tenth into the 5m candle
    row = fine.loc["2024-03-01T03:30"]
    assert feed.price("BTC") == pytest.approx(row["open"] + (row["close"] - row["open"]) / 10, abs=0.01)
    # nothing from the future of the served clock
    assert feed.klines("BTC", "5m", start_ms=wall[0] + 300_000).t.size == 0


def test_replay_aggregates_and_aligns(store: CandleStore, datadir: Path) -> None:
    wall = [parse_time("2030-01-01T10:20:30")]
    feed = _replay(store, "2024-03-01T00:00", 60, wall)  # a served 1m candle = a real hour (12 x 5m)
    start = feed.clock.data_now()
    assert parse_time("2024-03-01T00:00") - HOUR < start <= parse_time("2024-03-01T00:00")
    candles = feed.klines("ETH", "1m", limit=5)
    assert np.all(candles.rows[:-1] == 12) and np.all(np.diff(candles.t) == 60_000)
    first_data = feed.clock.to_data(float(candles.t[0]))
    assert first_data % HOUR == 0  # served candles start on real candle boundaries
    hour = (
        load_candles("ETH", "1h", datadir)
        .set_index("date")
        .loc[pd.Timestamp(first_data, unit="ms", tz="UTC")]
    )
    assert (candles.o[0], candles.h[0], candles.low[0], candles.c[0]) == pytest.approx(
        (hour["open"], hour["high"], hour["low"], hour["close"])
    )
    with pytest.raises(FeedError, match="multiple of a data timeframe"):
        _replay(store, "2024-03-01T00:00", 1, wall).klines("ETH", "1m")


def test_replay_rejects_bad_parameters(store: CandleStore) -> None:
    with pytest.raises(ValueError, match="replay_from=1999"):
        _replay(store, "1999-01-01", 10, [parse_time("2030-01-01")])
    with pytest.raises(ValueError, match="speed"):
        Clock(replay_from_ms=0, speed=0)
    with pytest.raises(ValueError, match="replay_from"):
        parse_time("yesterday-ish")


def test_replay_server_is_fresh_for_ccxt(datadir: Path) -> None:
    with OfflineExchange(datadir, port=0, replay_from="2024-06-01T00:00", speed=60) as ex:
        api = ccxt.binance(ex.ccxt_config())
        api.load_markets()
        now = api.milliseconds()
        candles = api.fetch_ohlcv("BTC/USDT", "1m", limit=10)
        assert now - 60_000 <= candles[-1][0] <= now  # the open candle is the present minute
        assert np.all(np.diff([c[0] for c in candles]) == 60_000)
        # At speed 60 a replay minute is a real second: under load the ticker can come from the next
        # minute. Compare it with the candle of its own minute (the same open candle before and after).
        for _ in range(5):
            before = api.fetch_ohlcv("BTC/USDT", "1m", limit=1)[-1]
            ticker = api.fetch_ticker("BTC/USDT")
            after = api.fetch_ohlcv("BTC/USDT", "1m", limit=1)[-1]
            if before[0] == after[0]:
                break
        assert before[0] == after[0], "no ticker within one replay minute in five tries"
        assert after[3] <= ticker["last"] <= after[2]


# ---- processes and freqtrade --------------------------------------------------------------------
def test_start_status_stop(tmp_path: Path, datadir: Path) -> None:
    cli = [sys.executable, "-m", "freqtrade_smartfolio.exchange"]
    run_dir = ["--run-dir", str(tmp_path / "run")]
    started = subprocess.run(
        [*cli, "start", "--datadir", str(datadir), "--port", "0", *run_dir], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    try:
        info = json.loads((tmp_path / "run" / "server.pid").read_text())
        assert info["url"] in started.stdout and '"ccxt_async_config"' in started.stdout
        with urllib.request.urlopen(f"{info['url']}/api/v3/ping") as resp:
            assert resp.status == 200
        status = subprocess.run([*cli, "status", *run_dir], capture_output=True, text=True)
        assert status.returncode == 0 and "answering" in status.stdout
    finally:
        stopped = subprocess.run([*cli, "stop", *run_dir], capture_output=True, text=True)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert subprocess.run([*cli, "status", *run_dir], capture_output=True).returncode == 1


@pytest.mark.slow
def test_freqtrade_download_data(tmp_path: Path, exchange: OfflineExchange, datadir: Path) -> None:
    out = tmp_path / "data"
    config = {
        "stake_currency": "USDT",
        "dry_run": True,
        "trading_mode": "spot",
        "exchange": exchange.exchange_config(["BTC/USDT", "SOL/USDT"]),
        "pairlists": [{"method": "StaticPairList"}],
        "dataformat_ohlcv": "feather",
        "user_data_dir": str(tmp_path),
        "datadir": str(out),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    result = subprocess.run(
        [str(VENV_BIN / "freqtrade"), "download-data", "-c", str(tmp_path / "config.json"),
         "--timerange", "20240801-20240803", "-t", "1h", "5m"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert time.monotonic() - started < 60
    for coin in ("BTC", "SOL"):
        for tf in ("1h", "5m"):
            got = pd.read_feather(out / "binance" / f"{coin}_USDT-{tf}.feather")
            want = load_candles(coin, tf, datadir)
            merged = got.merge(want, on="date", suffixes=("", "_data"))
            assert len(merged) == len(got) > 0
            np.testing.assert_allclose(merged["close"], merged["close_data"])
            np.testing.assert_allclose(merged["volume"], merged["volume_data"])


def test_the_exchange_modules_import_each_other_without_a_cycle():
    """Every import between the exchange's modules (TYPE_CHECKING and function-level ones too) runs
    one way: walking the graph from any module never comes back to it."""
    import ast

    package = Path(__file__).resolve().parent.parent / "freqtrade_smartfolio" / "exchange"
    prefix = "freqtrade_smartfolio.exchange."
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        if path.stem in ("__init__", "__main__"):
            continue
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith(prefix):
                    imported.add(node.module[len(prefix) :])
                elif node.module == "freqtrade_smartfolio.exchange":
                    imported |= {alias.name for alias in node.names}
        graph[path.stem] = imported
    assert {"server", "private", "accounts", "matching", "persistence", "wire"} <= set(graph)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(module for module in graph if reaches(module, module, {module}))
    assert cycles == []
