"""Time-series column names: built here for the model's data collection and parsed here by
whoever reads `timeseries.parquet`, so producer and readers cannot drift apart.

Per-step columns (one row per step, `step` first): `gas_gwei`, `treasury_usd` (the
treasury's ledger holdings at reference prices), `liquidations` (this step's count), the
treasury's book (`treasury_nav_usd`, `treasury_nav_liq_usd`, `treasury_debt_usd`,
`treasury_turnover_usd`, `treasury_costs_usd`, and `runway_months` when it has opex), and
one column per thing of the world, named `<kind>:<subject>[:<asset>]`:
`price:ASSET` (the traded off-chain price), `fundamental:ASSET` (its exogenous
fundamental, for assets whose off-chain depth is finite: the two differ by the impact of
off-chain flow, `protocols.offchain`), `pool_price:POOL` (its first token's price, USD),
`oracle:CONSUMER:ASSET`, `utilization:MARKET:ASSET`, `bad_debt:MARKET:ASSET` (units),
`bad_debt_usd:MARKET` (debt written off so far), `shortfall_usd:MARKET` (what insolvent
positions' debt exceeds their collateral by, at off-chain prices, at its peak over the
step's rounds: `sim.shortfall`), `borrowing_power_usd:MARKET` and `borrowed_usd:MARKET`
(the book's collateral x LTV and its debt, at off-chain prices: `sim.capital`) and
`vault_share_usd:VAULT`, `treasury_hf:MARKET` (the treasury's health factor there at the
market's oracle prices, inf without debt; only when the treasury may borrow:
`agents.treasury_debts.may_borrow`), `backing:BRIDGE` (a bridge's locked canonical per
outstanding wrapped unit, 1 = fully backed; its wrapped asset has `price:` like any asset)
and `pool_tvl_usd:POOL` (a pool's reserves at off-chain prices, USD: for pools that trade a
wrapped asset, whose LPs hold the bridge's loss). The treasury's Greeks per underlying
(`agents.treasury_book`), for the underlyings of the vaults its config names and its
delta_hedge asset: `treasury_delta:ASSET` (units), `treasury_gamma:ASSET` (units per 1 USD
move) and `treasury_vega:ASSET` (USD per vol point). With a `regime` market or policy
(`sim.treasury.forecast_reporters`): `regime_prob:ASSET` (the filtered probability of the
stress regime after the step, 0-1), `vol_forecast:ASSET` (the forecast volatility of the
next step's log return, annualized) per non-stable treasury asset, and `market_regime` (the
true regime of a `regime` market's step: 0 calm, 1 stress). With a v3 pool: `il_usd:HOLDER`
and `il_ex_fees_usd:HOLDER` (impermanent loss of the v3 positions of `treasury` or of the
group `liquidity_providers`, USD, fees included / excluded: `agents.ranges`); with a v3 venue
in the treasury's config, `range_low:POOL` / `range_high:POOL` (the treasury's v3 range in USD
per token0, NaN while it holds none). An asset may itself contain ":" (a
composed reserve such as `aave:aUSDC`), so a name splits at its first two colons
only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

GAS_GWEI = "gas_gwei"
TREASURY_USD = "treasury_usd"
LIQUIDATIONS = "liquidations"
#: DebtRank of the run's origins (at their losses) on this step's exposures (sim.contagion),
#: sampled every 6 hours and at the step before the first origin, held between (sim.model)
SYSTEMIC_DEBTRANK = "systemic_debtrank"
TREASURY_NAV = "treasury_nav_usd"
TREASURY_NAV_LIQ = "treasury_nav_liq_usd"
TREASURY_DEBT = "treasury_debt_usd"
TREASURY_TURNOVER = "treasury_turnover_usd"
TREASURY_COSTS = "treasury_costs_usd"
RUNWAY_MONTHS = "runway_months"
MARKET_REGIME = "market_regime"

PRICE, FUNDAMENTAL, POOL_PRICE, ORACLE = "price", "fundamental", "pool_price", "oracle"
UTILIZATION, BAD_DEBT, BAD_DEBT_USD, VAULT_SHARE_USD = (
    "utilization", "bad_debt", "bad_debt_usd", "vault_share_usd")
SHORTFALL_USD = "shortfall_usd"
TREASURY_DELTA, TREASURY_GAMMA, TREASURY_VEGA = (
    "treasury_delta", "treasury_gamma", "treasury_vega")
BORROWING_POWER_USD, BORROWED_USD = "borrowing_power_usd", "borrowed_usd"
TREASURY_HF = "treasury_hf"
BACKING, POOL_TVL_USD = "backing", "pool_tvl_usd"
REGIME_PROB, VOL_FORECAST = "regime_prob", "vol_forecast"
IL_USD, IL_EX_FEES_USD, RANGE_LOW, RANGE_HIGH = (
    "il_usd", "il_ex_fees_usd", "range_low", "range_high")
#: kinds whose name carries an asset after the subject
_WITH_ASSET = frozenset({ORACLE, UTILIZATION, BAD_DEBT})


class Column(NamedTuple):
    """A per-thing column taken apart: its kind, subject (asset, pool, consumer, market or
    vault) and, for the kinds that have one, the asset."""

    name: str
    kind: str
    subject: str
    asset: str | None = None


def price(asset: str) -> str:
    return f"{PRICE}:{asset}"


def fundamental(asset: str) -> str:
    return f"{FUNDAMENTAL}:{asset}"


def pool_price(pool: str) -> str:
    return f"{POOL_PRICE}:{pool}"


def oracle(consumer: str, asset: str) -> str:
    return f"{ORACLE}:{consumer}:{asset}"


def utilization(market: str, asset: str) -> str:
    return f"{UTILIZATION}:{market}:{asset}"


def bad_debt(market: str, asset: str) -> str:
    return f"{BAD_DEBT}:{market}:{asset}"


def bad_debt_usd(market: str) -> str:
    """Per market, in USD at reference prices (also a summary key)."""
    return f"{BAD_DEBT_USD}:{market}"


def shortfall_usd(market: str) -> str:
    """Per market, in USD at reference prices: sum over positions of max(0, debt value -
    collateral value), marked to market every step (not yet written off: see bad_debt_usd)."""
    return f"{SHORTFALL_USD}:{market}"


def borrowing_power_usd(market: str) -> str:
    """Per market, in USD at reference prices: sum of position collateral x LTV (sim.capital)."""
    return f"{BORROWING_POWER_USD}:{market}"


def borrowed_usd(market: str) -> str:
    """Per market, in USD at reference prices: the positions' debt with interest."""
    return f"{BORROWED_USD}:{market}"


def treasury_hf(market: str) -> str:
    """The treasury's health factor in `market` (oracle prices; inf without debt)."""
    return f"{TREASURY_HF}:{market}"


def vault_share_usd(vault: str) -> str:
    return f"{VAULT_SHARE_USD}:{vault}"


def backing(bridge: str) -> str:
    """A bridge's backing ratio: locked canonical / outstanding wrapped (protocols.bridge)."""
    return f"{BACKING}:{bridge}"


def pool_tvl_usd(pool: str) -> str:
    """A pool's reserves at off-chain prices, USD (`World.pool_tvl_usd`)."""
    return f"{POOL_TVL_USD}:{pool}"


def treasury_greek(kind: str, asset: str) -> str:
    """`treasury_delta:ASSET`, `treasury_gamma:ASSET` or `treasury_vega:ASSET`."""
    return f"{kind}:{asset}"


def regime_prob(asset: str) -> str:
    return f"{REGIME_PROB}:{asset}"


def vol_forecast(asset: str) -> str:
    return f"{VOL_FORECAST}:{asset}"


def il_usd(holder: str) -> str:
    """Impermanent loss of a holder's (or group's) v3 positions, fees included, USD."""
    return f"{IL_USD}:{holder}"


def il_ex_fees_usd(holder: str) -> str:
    return f"{IL_EX_FEES_USD}:{holder}"


def range_low(pool: str) -> str:
    """The treasury's v3 range in `pool`: its lower bound, USD per token0."""
    return f"{RANGE_LOW}:{pool}"


def range_high(pool: str) -> str:
    return f"{RANGE_HIGH}:{pool}"


def parse(name: str) -> Column | None:
    """`name` taken apart; None for a per-step column without a subject."""
    kind, sep, rest = name.partition(":")
    if not sep:
        return None
    if kind in _WITH_ASSET:
        subject, _, asset = rest.partition(":")
        return Column(name, kind, subject, asset)
    return Column(name, kind, rest)


def of_kind(names: Iterable[str], kind: str) -> list[Column]:
    """The columns of one kind among `names`, in their order."""
    return [c for c in map(parse, names) if c is not None and c.kind == kind]
