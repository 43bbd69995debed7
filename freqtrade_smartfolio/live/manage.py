"""Change a running bot: add investment, change settings (validated first), stop it.

Settings live in the bot's config file: a change is validated with
:func:`freqtrade_smartfolio.config.parse_settings`, written (owner-only, atomically) and applied with
``/reload_config``; a bad value is refused before anything is written, so the bot keeps its settings.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade_smartfolio.config import SECTION, ConfigError, parse_settings
from freqtrade_smartfolio.live.connect import BotClient, BotError, read_config


def write_config_atomically(config: dict[str, Any], path: Path) -> None:
    """Replace ``path`` with ``config`` in one step, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent=2)
    os.replace(tmp, path)


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``'rebalance.threshold=3'`` -> (['rebalance', 'threshold'], 3); values are JSON, else strings."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError([f"{text!r} is not KEY=VALUE; e.g. rebalance.threshold=3 or rebalance.interval=1d"])
    path = [part for part in key.strip().split(".") if part]
    if path and path[0] == SECTION:
        path = path[1:]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw.strip()
    return path, value


@dataclass(frozen=True)
class Change:
    """What a change did: each field as ``(old, new)``."""

    fields: dict[str, tuple[Any, Any]]


def change_settings(
    config_path: Path, assignments: list[str], base: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Change]:
    """The config (``base`` or the file's) with ``assignments`` applied to its ``smartfolio`` section,
    validated; nothing is written here. Raises ConfigError naming the field, value and fix."""
    config = base if base is not None else read_config(config_path)
    new = copy.deepcopy(config)
    section = new.setdefault(SECTION, {})
    fields: dict[str, tuple[Any, Any]] = {}
    for text in assignments:
        path, value = parse_assignment(text)
        node = section
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError([f"{SECTION}.{'.'.join(path)}: {part!r} is not an object"])
            node = child
        name = f"{SECTION}.{'.'.join(path)}"
        old = node.get(path[-1])
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
        fields[name] = (old, value)
    parse_settings(new)
    return new, Change(fields)


def apply(client: BotClient | None, config_path: Path, config: dict[str, Any], timeout: float = 60.0) -> None:
    """Write the validated config, ask the bot to reload it (``/reload_config``) and wait until it
    runs again (freqtrade restarts its REST API during a reload)."""
    write_config_atomically(config, config_path)
    if client is not None:
        client.reload_config()
        wait_until_running(client, timeout)


def wait_until_running(client: BotClient, timeout: float = 60.0) -> None:
    """Poll /show_config until the bot answers with state ``running``; BotError on timeout."""
    deadline = time.monotonic() + timeout
    time.sleep(1.0)  # let the reload begin before the first poll
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            last = str(client.show_config().get("state"))
            if last == "running":
                return
        except BotError as err:
            last = str(err)
        time.sleep(0.5)
    raise BotError(
        f"the bot did not run again within {timeout:.0f}s after /reload_config ({last}); see its log"
    )


def invest_config(config_path: Path, amount: float) -> tuple[dict[str, Any], Change]:
    """The config with ``amount`` more invested: ``smartfolio.investment`` and, in dry-run, the
    simulated wallet (``dry_run_wallet``). A live bot trades the exchange balance: deposit first."""
    if not (isinstance(amount, int | float) and amount > 0):
        raise ConfigError([f"--amount: {amount!r} is not a positive amount; e.g. --amount 500"])
    config = read_config(config_path)
    if "available_capital" in config:
        raise ConfigError(
            [
                "available_capital is set: freqtrade then ignores the profit of partial exits of open "
                "trades (wallets.get_total_stake_amount), which a rebalancing portfolio is made of; "
                "remove available_capital from the config and use tradable_balance_ratio instead"
            ]
        )
    new = copy.deepcopy(config)
    section = new.setdefault(SECTION, {})
    old_investment = section.get("investment")
    section["investment"] = round(float(old_investment or 0) + amount, 8)
    fields = {f"{SECTION}.investment": (old_investment, section["investment"])}
    if new.get("dry_run", True):
        old_wallet = new.get("dry_run_wallet", 1000)
        if not isinstance(old_wallet, int | float):
            raise ConfigError(["dry_run_wallet: a per-currency wallet is not supported; give one amount"])
        new["dry_run_wallet"] = round(float(old_wallet) + amount, 8)
        fields["dry_run_wallet"] = (old_wallet, new["dry_run_wallet"])
    parse_settings(new)
    return new, Change(fields)


def stop_bot(client: BotClient, sell_all: bool, timeout: float = 60.0) -> list[str]:
    """Stop trading. ``sell_all``: no new entries (/stopentry), sell every coin at market
    (/forceexit all), wait until no trade is open, then /stop. Otherwise /stop only: the coins stay,
    and a restarted bot takes its open trades up again. Returns what was done."""
    done = []
    if sell_all:
        client.stopbuy()
        done.append("entries stopped (/stopentry)")
        open_trades = client.status()
        if open_trades:
            client.forceexit("all")
            done.append(f"selling {len(open_trades)} coin(s) at market (/forceexit all)")
            deadline = time.monotonic() + timeout
            while client.status():
                if time.monotonic() > deadline:
                    left = ", ".join(t["pair"] for t in client.status())
                    raise BotError(f"trades still open after {timeout:.0f}s: {left}; check the bot's log")
                time.sleep(1.0)
            done.append("all trades closed")
    client.stop()
    done.append("bot stopped (/stop); the process and its REST API keep running")
    return done
