"""Capital efficiency of each lending market - what its borrowers can borrow, what they have
borrowed, and the ratio - the figure that shows what a risk parameter change costs
borrowers beside the risk it saves (Gauntlet and Chaos Labs pair every risk figure with
one: borrowing power and borrow usage).

Per market, from the position book (suppliers who do not borrow have no position):
- borrowing power (USD): sum over positions and assets of collateral units x off-chain price
  x the reserve's LTV (0 for an asset that cannot back a loan). Aave v3's
  GenericLogic.calculateUserAccountData sums each collateral's value and its value x LTV
  (`avgLtv` = that sum / total collateral), and calculateAvailableBorrows returns
  totalCollateral x avgLtv - totalDebt: borrowing power here is that capacity BEFORE the
  debt is taken off (what the collateral could carry), summed over positions;
- borrowed (USD): the positions' debt with interest;
- borrow usage: borrowed / borrowing power (above 1 when falling prices left positions
  owing more than their collateral could carry now).

Off-chain (reference) prices, as the shortfall (`sim.shortfall`): a frozen or lagging
oracle changes what the market lets a borrower do, not what the collateral is worth.

Per-step columns `borrowing_power_usd:MARKET` and `borrowed_usd:MARKET` (sim.columns);
summary figures at the start (step 0, positions open), at the end, and their mean over
every step of the run (`_mean`). A parameter change at step 48 shows in `_end` and
`_mean`, not in `_start`; `_end` also carries everything the run did to the book (a crash
cuts collateral value, liquidations remove positions). The mean is the figure chosen to
judge a change by: what borrowers could borrow on average while the policy held, in the
same paired price paths - a snapshot just after the change would be as honest for a
change made once at a known step but depends on the moment chosen (the liquidations a
tighter threshold sets off take steps), and says nothing of a change made later.
`borrow_usage_mean` is mean borrowed / mean borrowing power (a ratio of means, so a step
with little borrowing power does not dominate it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from protocols.lending import LendingMarket
from protocols.world import World
from sim import columns

MOMENTS = ("start", "end", "mean")


def ltvs(market: LendingMarket) -> np.ndarray:
    """The LTV in force per asset (market.assets order), 0 where it cannot back a loan."""
    return np.array([market.reserves[a].ltv * market.reserves[a].usable_as_collateral
                     for a in market.assets])


def book_figures(world: World, market: LendingMarket) -> tuple[float, float]:
    """(borrowing power, borrowed) of `market`'s whole book in USD at off-chain prices
    (module doc): each position's value, summed - one matrix-vector product per side."""
    prices = np.array([world.usd(a) for a in market.assets])
    liquidity = np.array([market.exchange_rate(a) for a in market.assets])
    borrow = np.array([market.borrow_index(a) for a in market.assets])
    power = market.collateral_scaled @ (liquidity * prices * ltvs(market))
    return float(power.sum()), float((market.debt_scaled @ (borrow * prices)).sum())


def usage(borrowed: float, power: float) -> float:
    """borrowed / borrowing power: 0 without debt, inf for debt with no borrowing power."""
    if power > 0:
        return borrowed / power
    return 0.0 if borrowed <= 0 else math.inf


def reporters(world: World) -> dict[str, Callable[[Any], float]]:
    """The model's per-step columns, two per market, from one valuation of each book per
    step (the second column reads what the first computed at the same step)."""
    latest: dict[str, tuple[int, tuple[float, float]]] = {}

    def figures(model: Any, name: str) -> tuple[float, float]:
        step = int(model.steps)
        if name not in latest or latest[name][0] != step:
            latest[name] = (step, book_figures(model.world, model.world.markets[name]))
        return latest[name][1]

    out: dict[str, Callable[[Any], float]] = {}
    for name in world.markets:
        out[columns.borrowing_power_usd(name)] = lambda m, n=name: figures(m, n)[0]
        out[columns.borrowed_usd(name)] = lambda m, n=name: figures(m, n)[1]
    return out


def summary_figures(ts: pd.DataFrame) -> dict[str, float]:
    """`borrowing_power_usd_{start,end,mean}`, `borrowed_usd_...` and `borrow_usage_...`
    totalled over markets, then the same per market (`:MARKET` suffix), from the per-step
    columns (module doc). No figures for a world without a lending market."""
    power = {c.subject: ts[c.name] for c in columns.of_kind(ts.columns,
                                                            columns.BORROWING_POWER_USD)}
    borrowed = {c.subject: ts[c.name] for c in columns.of_kind(ts.columns,
                                                               columns.BORROWED_USD)}
    if not power:
        return {}
    groups = {"": (sum(power.values()), sum(borrowed.values()))}
    groups.update({f":{m}": (power[m], borrowed[m]) for m in power})
    figures: dict[str, float] = {}
    for suffix, (p, b) in groups.items():
        at = {"start": (float(p.iloc[0]), float(b.iloc[0])),
              "end": (float(p.iloc[-1]), float(b.iloc[-1])),
              "mean": (float(p.mean()), float(b.mean()))}
        for moment in MOMENTS:
            figures[f"borrowing_power_usd_{moment}{suffix}"] = at[moment][0]
            figures[f"borrowed_usd_{moment}{suffix}"] = at[moment][1]
            figures[f"borrow_usage_{moment}{suffix}"] = usage(at[moment][1], at[moment][0])
    return figures
