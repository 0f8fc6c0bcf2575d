"""Managed concentrated liquidity in the outputs: impermanent loss of the liquidity
providers and of the treasury, the treasury's v3 ranges, and the re-centrings.

Columns (sim.columns), when the world has a Uniswap v3 pool: `il_usd:liquidity_providers`,
`il_ex_fees_usd:liquidity_providers`, `il_usd:treasury`, `il_ex_fees_usd:treasury` (USD:
value of the positions minus holding what was put in them, at reference prices, fees
included / excluded; `agents.ranges`), and `range_low:POOL` / `range_high:POOL` for each v3
pool the treasury's config names as a venue ("<pool>:v3"). Summary keys: the last row of
the IL columns (`lp_il_usd`, `lp_il_ex_fees_usd`, `treasury_il_usd`,
`treasury_il_ex_fees_usd`; 0 without v3 pools), `recentres` (count of `recentre` events)
and `recentre_cost_usd` (their swap costs plus gas).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from agents import event_kinds
from agents.liquidity_provider import LiquidityProvider
from agents.ranges import RangeKeeper
from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.v3_math import tick_to_sqrt_price
from sim import columns

LPS = names.AGENT_GROUPS[names.LIQUIDITY_PROVIDER]


class _Meter:
    """Both IL figures of a set of keepers, computed once per step."""

    def __init__(self, keepers: Any) -> None:
        self.keepers = keepers  # a callable: the model -> its keepers
        self._cache: tuple[int, tuple[float, float]] | None = None

    def read(self, model: Any, k: int) -> float:
        if self._cache is None or self._cache[0] != model.steps:
            with_fees = ex_fees = 0.0
            for keeper in self.keepers(model):
                il, il_ex = keeper.il_usd()
                with_fees, ex_fees = with_fees + il, ex_fees + il_ex
            self._cache = (model.steps, (with_fees, ex_fees))
        return self._cache[1][k]


def _lp_keepers(model: Any) -> list[RangeKeeper]:
    return [keeper for lp in model.agents_by_type.get(LiquidityProvider, [])
            for keeper in lp.keepers.values()]


def _treasury_keepers(model: Any) -> list[RangeKeeper]:
    return [v.keeper for v in model.allocator.ranges if v.keeper is not None]


def reporters(world: Any, treasury: Any) -> dict[str, Any]:
    """The columns of the module doc; `treasury` is the scenario's treasury spec."""
    pools = [p for p in world.pools.values() if isinstance(p, ConcentratedLiquidityPool)]
    if not pools:
        return {}
    series: dict[str, Any] = {}
    for holder, keepers in ((LPS, _lp_keepers), (names.TREASURY, _treasury_keepers)):
        meter = _Meter(keepers)
        series[columns.il_usd(holder)] = lambda m, r=meter: r.read(m, 0)
        series[columns.il_ex_fees_usd(holder)] = lambda m, r=meter: r.read(m, 1)
    named = {*treasury.venues, *treasury.policy.weights, *(a.asset for a in treasury.actions)}
    for pool in pools:
        if names.v3_positions(pool.name) in named:
            series[columns.range_low(pool.name)] = lambda m, p=pool: _bound(m, p, 0)
            series[columns.range_high(pool.name)] = lambda m, p=pool: _bound(m, p, 1)
    return series


def _bound(model: Any, pool: ConcentratedLiquidityPool, side: int) -> float:
    """The treasury's range in `pool` in USD per token0: the lowest lower / highest upper
    bound of its positions; NaN while it holds none."""
    ticks = [t for v in model.allocator.ranges if v.pool is pool and v.keeper is not None
             for t in v.keeper.ranges()]
    if not ticks:
        return math.nan
    tick = min(t[0] for t in ticks) if side == 0 else max(t[1] for t in ticks)
    return tick_to_sqrt_price(tick) ** 2 * model.world.usd(pool.tokens[1])


def summary_figures(timeseries: Any, events: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The summary keys of the module doc."""
    def last(column: str) -> float:
        return float(timeseries[column].iloc[-1]) if column in timeseries else 0.0

    recentres = [e for e in events if e["kind"] == event_kinds.RECENTRE]
    return {
        "lp_il_usd": last(columns.il_usd(LPS)),
        "lp_il_ex_fees_usd": last(columns.il_ex_fees_usd(LPS)),
        "treasury_il_usd": last(columns.il_usd(names.TREASURY)),
        "treasury_il_ex_fees_usd": last(columns.il_ex_fees_usd(names.TREASURY)),
        "recentres": len(recentres),
        "recentre_cost_usd": math.fsum(e["swap_cost_usd"] + e["gas_usd"] for e in recentres),
    }
