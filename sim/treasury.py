"""Treasury metrics: NAV at reference and at liquidation value, drawdown, realized
volatility, runway, exposure per protocol, turnover and costs.

- NAV (reference): free portfolio + posted collateral - debt, every token through its
  underlying at reference prices (`agents.treasury_book`).
- NAV (liquidation): what selling everything now would raise - each base asset's total
  (free underlying + collateral) sold in one order through the best route of the simulated
  pools into a USD stablecoin, quoted without changing any state; stablecoins at reference;
  lending deposits only as far as their market's cash can pay them out; minus debt at
  reference. Amounts no route can absorb count for nothing (halved until a quote fills).
- Runway (months): USD stablecoins held plus stablecoin deposits redeemable now, divided by
  the monthly opex (inf without opex): `agents.treasury_book.runway_months`, which the
  allocator's forced selling reads too. Borrowed stablecoins count: they are cash.
- Drawdown and realized volatility from the NAV series (log returns, annualized).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from agents import event_kinds
from agents.routing import Router
from agents.treasury_book import Book, read_book, runway_months
from protocols import names
from sim import columns

#: Summary keys kept until version 0.2 as copies of the key they duplicated: 0.1 reported
#: the treasury's gross ledger value under them, which equals the NAV without a loan.
ALIASES = {"treasury_start_usd": "treasury_nav_start_usd",
           "treasury_end_usd": "treasury_nav_end_usd",
           "treasury_max_drawdown": "treasury_nav_max_drawdown"}

#: the collateral buffer's events (agents.treasury_buffer), each with the HF it acted at
BUFFER_EVENTS = (event_kinds.COLLATERAL_TOPUP, event_kinds.DEBT_REPAID_FOR_BUFFER,
                 event_kinds.COLLATERAL_WITHDRAWN_FOR_BUFFER)

#: Halvings tried when a full-size liquidation quote cannot be filled.
MAX_HALVINGS = 20


def exposures(world: Any, holder: str, step: int) -> dict[str, float]:
    """USD the holder has in each protocol node (issuer of the tokens it holds; a market
    for posted collateral; a pool for v3 positions). Base assets appear under their ledger
    issuer (`issuer:GOV`)."""
    return dict(read_book(world, holder, step).exposure_usd)


def liquidation_value_usd(book: Book, router: Router, stables: Collection[str],
                          into: Collection[str] | None = None) -> float:
    """NAV if everything were sold now through the pools (see module doc), each asset into
    whichever of `into` (default: every stablecoin) pays most."""
    into = stables if into is None else into
    total = 0.0
    units = dict(book.free_units)
    for asset, locked in book.locked_units.items():
        units[asset] = units.get(asset, 0.0) - locked
    for asset, amount in book.collateral.items():
        units[asset] = units.get(asset, 0.0) + amount
    for asset, amount in units.items():
        if amount <= 0:
            continue
        if asset in stables:
            total += amount * book.prices[asset]
        else:
            total += _sale_usd(router, asset, amount, book.prices, into)
    return total - math.fsum(book.debt_usd.values())


def _sale_usd(router: Router, asset: str, amount: float, prices: Mapping[str, float],
              stables: Collection[str]) -> float:
    outs = [s for s in stables if router.routes(asset, s)]
    for _ in range(MAX_HALVINGS):
        best = 0.0
        for stable in outs:
            quote = router.quote(asset, stable, amount)
            if quote is not None:
                best = max(best, quote.amount_out * prices[stable])
        if best > 0 or not outs:
            return best
        amount *= 0.5
    return 0.0


def drawdowns(nav: Sequence[float] | np.ndarray) -> np.ndarray:
    """Fall from the running peak at each step, as a share of the peak (0 while the peak
    is not positive; a missing value is skipped by the peak and has no drawdown)."""
    values = np.asarray(nav, dtype=float)
    peak = np.fmax.accumulate(values) if values.size else values
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(peak > 0, 1.0 - values / peak, 0.0)


def max_drawdown(nav: Sequence[float] | np.ndarray) -> float:
    """Largest fall from a running peak, as a share of the peak."""
    values = np.asarray(nav, dtype=float)
    values = values[np.isfinite(values)]
    return float(drawdowns(values).max()) if values.size else 0.0


def realized_vol(nav: Sequence[float] | np.ndarray, steps_per_year: float) -> float:
    """Annualized standard deviation of the NAV's log returns per step."""
    values = np.asarray(nav, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 3:
        return 0.0
    returns = np.diff(np.log(values))
    return float(np.std(returns, ddof=1) * math.sqrt(steps_per_year))


def reporters(opex_usd_per_month: float) -> dict[str, Any]:
    """Time-series reporters of the treasury (read the allocator's book, which it
    refreshes after acting, so a step costs one liquidation quote per asset held).
    `runway_months` only with opex: without spend the runway is unbounded."""
    series = {
        columns.TREASURY_NAV: lambda m: m.allocator.book.nav_usd,
        columns.TREASURY_NAV_LIQ: lambda m: liquidation_value_usd(
            m.allocator.book, m.allocator.router, m.allocator.stables, m.allocator.exit_assets
        ),
        columns.TREASURY_DEBT: lambda m: math.fsum(m.allocator.book.debt_usd.values()),
        columns.TREASURY_TURNOVER: lambda m: m.allocator.turnover_usd,
        columns.TREASURY_COSTS: lambda m: m.allocator.costs_usd["gas"]
        + m.allocator.costs_usd["slippage"],
    }
    if opex_usd_per_month > 0:
        series[columns.RUNWAY_MONTHS] = lambda m: runway_months(
            m.allocator.book, opex_usd_per_month, m.allocator.stables
        )
    return series


def greek_assets(config: Any) -> list[str]:
    """The underlyings whose Greeks the time series carries: those of the vaults the
    treasury's holdings, venues or policy weights name, and a delta_hedge's asset."""
    treasury = config.treasury
    named = {*treasury.holdings, *treasury.venues, *treasury.policy.weights}
    assets = [p.underlying for p in config.protocols
              if p.kind == "option_vault" and names.vault_shares(p.name) in named]
    if treasury.policy.kind == "delta_hedge":
        assets.append(treasury.policy.hedge_asset)
    return list(dict.fromkeys(assets))


def greek_reporters(config: Any) -> dict[str, Any]:
    """`treasury_delta|gamma|vega:ASSET` for `greek_assets` (units, units per USD, USD per
    vol point), read from the allocator's book."""
    series: dict[str, Any] = {}
    for asset in greek_assets(config):
        for kind, attr in ((columns.TREASURY_DELTA, "deltas"), (columns.TREASURY_GAMMA, "gammas"),
                           (columns.TREASURY_VEGA, "vegas")):
            series[columns.treasury_greek(kind, asset)] = (
                lambda m, a=asset, at=attr: getattr(m.allocator.book, at).get(a, 0.0))
    return series


def forecast_reporters(config: Any, regime: np.ndarray,
                       assets: Iterable[str]) -> dict[str, Any]:
    """The forecasts' columns (`sim.columns`) of `assets` (the allocator's forecaster's),
    only where a run uses them - a `regime` market or policy: other runs' time series stay
    as they were. `regime` is the market's true regime path (`sim.paths`)."""
    is_market = config.market.process == "regime"
    if not is_market and config.treasury.policy.kind != "regime":
        return {}
    series: dict[str, Any] = {}
    if is_market:
        series[columns.MARKET_REGIME] = lambda m: int(regime[m.steps])
    for asset in assets:
        series[columns.regime_prob(asset)] = (
            lambda m, a=asset: m.allocator.forecaster.regime_prob(m.steps)[a])
        series[columns.vol_forecast(asset)] = (
            lambda m, a=asset: m.allocator.forecaster.vol_forecast(m.steps)[a])
    return series


def summary_figures(allocator: Any, timeseries: Any,
                    events: Iterable[Mapping[str, Any]] = ()) -> dict[str, float]:
    """Headline treasury numbers of a run (for `TreasuryModel.summary`), the `ALIASES`
    included. From the event log:
    `treasury_liquidated_usd`, the treasury's collateral seized by liquidators (USD at the
    off-chain price of each liquidation), and `treasury_forced_sales_usd`, the USD its
    forced sales received (`agents.treasury_forced`). From the allocator's scheduled actions
    (`agents.treasury_actions`): `actions_executed_usd`, what their tranches did, and
    `actions_shortfall_usd`, what they intended and did not do by the end of their windows
    (USD at the reference price of the step each tranche was due). From the collateral
    buffer (`agents.treasury_buffer`): `treasury_buffer_topup_usd`, `_repaid_usd` and
    `_withdrawn_usd` (USD at reference prices when done); `treasury_hf_min`, the lowest
    health factor of any treasury loan (inf when it never borrowed) - at the end of a step
    (the `treasury_hf:MARKET` columns), before the buffer acted (its events' hf_before) or
    when liquidated (the liquidation's): the columns alone would miss the dip that the
    keeper or the liquidators ended within the step."""
    holder = allocator.holder
    liquidated = forced = 0.0
    hf = [timeseries[c.name].to_numpy(dtype=float)
          for c in columns.of_kind(timeseries.columns, columns.TREASURY_HF)]
    for event in events:
        if event["kind"] == event_kinds.LIQUIDATION and event.get("owner") == holder:
            liquidated += event["collateral_seized_usd"]
            hf.append(np.array([event["health_factor"]], dtype=float))
        elif event["kind"] in BUFFER_EVENTS and event.get("actor") == holder:
            hf.append(np.array([event["hf_before"]], dtype=float))
        elif event["kind"] == event_kinds.FORCED_SALE and event.get("actor") == holder:
            forced += event["usd"]
    nav = timeseries[columns.TREASURY_NAV].to_numpy(dtype=float)
    liq = timeseries[columns.TREASURY_NAV_LIQ].to_numpy(dtype=float)
    runway = (timeseries[columns.RUNWAY_MONTHS].to_numpy(dtype=float)
              if columns.RUNWAY_MONTHS in timeseries else np.array([]))
    buffer = allocator.buffer
    figures = {
        "treasury_nav_start_usd": float(nav[0]) if nav.size else 0.0,
        "treasury_nav_end_usd": float(nav[-1]) if nav.size else 0.0,
        "treasury_nav_liq_end_usd": float(liq[-1]) if liq.size else 0.0,
        "treasury_nav_max_drawdown": max_drawdown(nav),
        "treasury_realized_vol": realized_vol(nav, allocator.steps_per_year),
        "treasury_runway_months_end": float(runway[-1]) if runway.size else math.inf,
        "treasury_runway_months_min": float(runway.min()) if runway.size else math.inf,
        "treasury_turnover_usd": allocator.turnover_usd,
        "treasury_gas_usd": allocator.costs_usd["gas"],
        "treasury_slippage_usd": allocator.costs_usd["slippage"],
        "treasury_opex_paid_usd": allocator.opex_paid_usd,
        "treasury_opex_shortfall_usd": allocator.opex_shortfall_usd,
        "treasury_liquidated_usd": liquidated,
        "treasury_forced_sales_usd": forced,
        "actions_executed_usd": allocator.actions.executed_usd,
        "actions_shortfall_usd": allocator.actions.shortfall_usd,
        "treasury_hf_min": float(min((h.min() for h in hf if h.size), default=math.inf)),
        "treasury_buffer_topup_usd": buffer.topped_up_usd,
        "treasury_buffer_repaid_usd": buffer.repaid_usd,
        "treasury_buffer_withdrawn_usd": buffer.withdrawn_usd,
    }
    return figures | {alias: figures[key] for alias, key in ALIASES.items()}
