"""The catalogue of summary metrics: for every key of a run's summary, its unit, a one-line
meaning and which way is good - the one place a report looks this up.

Directions: `lower` (less is better: losses, insolvency, spread of distress), `higher` (more
is better: NAV, runway), `tradeoff` (neither on its own: more liquidations with less bad
debt can be the point of a proposal; turnover buys risk control with slippage) and `info`
(descriptive: the run's identity, its size, the steps at which things happened). Comparisons
judge a change as better or worse only by this table, never by the key's spelling.

Keys are exact, or patterns: `<stem>:<market>` for the per-lending-market keys, and
`shock_cost_<key>` for a counterfactual run's cost of the shock on `<key>` (with shocks
minus without, so it takes `<key>`'s unit and direction). An alias (`alias_of`) is an old
name kept for one version; reports fold it out in favour of the canonical key. The README's
"Summary keys" table gives the longer meanings; `tests/test_readme_summary_keys.py` keeps
the two in agreement on keys and units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher", "tradeoff", "info"]
#: groups a report can set side by side: what can go wrong, what borrowers get, the DAO's
#: own outcome, how far distress spreads, and the run's own description.
Group = Literal["risk", "capital efficiency", "treasury", "contagion", "run"]

MARKET = "<market>"
SHOCK_COST = "shock_cost_"


@dataclass(frozen=True)
class Metric:
    key: str
    unit: str
    meaning: str
    direction: Direction
    group: Group
    alias_of: str | None = None


def _m(key: str, unit: str, direction: Direction, group: Group, meaning: str,
       alias_of: str | None = None) -> Metric:
    return Metric(key, unit, meaning, direction, group, alias_of)


_CATALOGUE = (
    # -- run -------------------------------------------------------------------------
    _m("max_gas_gwei", "gwei", "lower", "risk",
       "highest gas price of any step (liquidation load, gas spikes, the cap)"),
    _m("daosim_version", "text", "info", "run", "the daosim version that made the run"),
    _m("runtime_s", "s", "info", "run", "wall-clock time of the run (differs between reruns)"),
    _m("scenario", "text", "info", "run", "the scenario's name"),
    _m("scenario_sha256", "text", "info", "run",
       "sha256 of the resolved scenario (the run folder's scenario.json)"),
    _m("seed", "integer", "info", "run", "the run's seed"),
    _m("steps", "steps", "info", "run", "steps run"),
    # -- liquidations and losses -------------------------------------------------------
    _m("bad_debt_usd", "USD", "lower", "risk",
       "debt written off by liquidations that left debt without collateral, all markets"),
    _m("bad_debt_usd:<market>", "USD", "lower", "risk", "bad_debt_usd of one market"),
    _m("liquidation_volume_usd", "USD", "tradeoff", "risk",
       "debt repaid by liquidation calls (timely liquidation can prevent bad debt)"),
    _m("liquidations", "count", "tradeoff", "risk",
       "liquidation calls, each close-factor piece counted (more can mean less bad debt)"),
    _m("positions_liquidated", "count", "tradeoff", "risk",
       "distinct positions liquidated at least once"),
    _m("shortfall_end_usd", "USD", "lower", "risk",
       "insolvent positions' debt in excess of their collateral at the end, all markets"),
    _m("shortfall_end_usd:<market>", "USD", "lower", "risk", "shortfall_end_usd of one market"),
    _m("shortfall_peak_usd", "USD", "lower", "risk",
       "largest per-step insolvency (debt over collateral) before it becomes bad debt"),
    _m("shortfall_peak_usd:<market>", "USD", "lower", "risk",
       "shortfall_peak_usd of one market"),
    # -- treasury ----------------------------------------------------------------------
    _m("actions_executed_usd", "USD", "tradeoff", "treasury",
       "what the tranches of [[treasury.actions]] did, at reference prices when due"),
    _m("actions_shortfall_usd", "USD", "lower", "treasury",
       "what [[treasury.actions]] intended and did not do by the end of their windows"),
    _m("treasury_buffer_repaid_usd", "USD", "tradeoff", "treasury",
       "debt repaid to bring a loan's health factor back up to policy.borrow_hf"),
    _m("treasury_buffer_topup_usd", "USD", "tradeoff", "treasury",
       "collateral posted to bring a loan's health factor back up to policy.borrow_hf"),
    _m("treasury_buffer_withdrawn_usd", "USD", "info", "treasury",
       "collateral taken back from a loan above policy.hf_ceiling"),
    _m("treasury_end_usd", "USD", "higher", "treasury", "old name of treasury_nav_end_usd",
       alias_of="treasury_nav_end_usd"),
    _m("treasury_gas_usd", "USD", "lower", "treasury",
       "gas the allocator paid for swaps and venue actions"),
    _m("treasury_forced_sales_usd", "USD", "lower", "treasury",
       "received from forced sales when runway fell below its floor"),
    _m("treasury_hf_min", "ratio", "higher", "treasury",
       "lowest health factor of any treasury loan at any step, oracle prices (inf: none)"),
    _m("treasury_liquidated_usd", "USD", "lower", "treasury",
       "the treasury's collateral seized by liquidators"),
    _m("treasury_loss_usd", "USD", "lower", "treasury",
       "NAV at step 0 minus NAV at the last step (> 0: a loss)"),
    _m("treasury_max_drawdown", "share", "lower", "treasury",
       "old name of treasury_nav_max_drawdown", alias_of="treasury_nav_max_drawdown"),
    _m("treasury_nav_end_usd", "USD", "higher", "treasury",
       "net asset value at the last step: free + posted collateral - debt"),
    _m("treasury_nav_liq_end_usd", "USD", "higher", "treasury",
       "NAV at the last step if everything were sold at once through the pools"),
    _m("treasury_nav_max_drawdown", "share", "lower", "treasury",
       "largest fall of the NAV from its running peak, as a share of the peak"),
    _m("treasury_nav_start_usd", "USD", "info", "treasury", "net asset value at step 0"),
    # what is paid follows the opex schedule; the shortfall carries the verdict
    _m("treasury_opex_paid_usd", "USD", "info", "treasury", "operating spend paid"),
    _m("treasury_opex_shortfall_usd", "USD", "lower", "treasury",
       "operating spend due but not paid"),
    _m("treasury_realized_vol", "1/yr^0.5", "lower", "treasury",
       "annualized volatility of the NAV's log returns per step"),
    _m("treasury_runway_months_end", "months", "higher", "treasury",
       "stablecoins held / monthly opex at the last step"),
    _m("treasury_runway_months_min", "months", "higher", "treasury",
       "lowest runway of any step"),
    _m("treasury_slippage_usd", "USD", "lower", "treasury",
       "value given up in the allocator's swaps (fees and price impact)"),
    _m("treasury_start_usd", "USD", "info", "treasury", "old name of treasury_nav_start_usd",
       alias_of="treasury_nav_start_usd"),
    _m("treasury_turnover_usd", "USD", "tradeoff", "treasury",
       "value sold in the allocator's swaps (the cost of acting on a policy)"),
    # -- concentrated liquidity (sim.ranges): IL < 0 is a loss against holding ----------
    _m("treasury_il_usd", "USD", "higher", "treasury",
       "impermanent loss of the treasury's v3 positions vs holding, fees included"),
    _m("treasury_il_ex_fees_usd", "USD", "higher", "treasury",
       "treasury_il_usd without the fees earned (divergence loss and re-centring costs)"),
    _m("lp_il_usd", "USD", "higher", "risk",
       "impermanent loss of the liquidity providers' v3 positions vs holding, fees included"),
    _m("lp_il_ex_fees_usd", "USD", "higher", "risk", "lp_il_usd without the fees earned"),
    _m("recentres", "count", "tradeoff", "treasury",
       "v3 ranges re-centred, the treasury's and the liquidity providers'"),
    _m("recentre_cost_usd", "USD", "lower", "treasury",
       "swap fees, price impact and gas the re-centrings paid"),
    # -- contagion ---------------------------------------------------------------------
    _m("cascade_depth", "links", "lower", "contagion",
       "longest chain of distress from an origin"),
    _m("debtrank", "share of value", "lower", "contagion",
       "DebtRank of the origins: value-weighted distress induced beyond them"),
    _m("distressed_unexplained", "count", "info", "contagion",
       "spread nodes with no distressed neighbour or origin before them"),
    _m("first_distress_step", "step", "info", "contagion",
       "step the first node of the spread became distressed"),
    _m("first_origin_step", "step", "info", "contagion", "step of the first origin"),
    _m("last_distress_step", "step", "info", "contagion",
       "step the last node of the spread became distressed"),
    _m("nodes_distressed", "count", "lower", "contagion", "nodes of the spread"),
    _m("nodes_distressed_at_start", "count", "info", "contagion",
       "nodes already distressed at step 0"),
    _m("protocols_distressed", "count", "lower", "contagion", "protocols of the spread"),
    _m("protocols_distressed_share", "share", "lower", "contagion",
       "protocols_distressed / protocols_total"),
    _m("protocols_total", "count", "info", "contagion", "protocols in the world"),
    _m("shock_origins", "text", "info", "contagion", "the origin nodes, comma-separated"),
    _m("time_to_first_distress", "steps", "higher", "contagion",
       "steps from the first origin to the first distress of the spread (warning time)"),
    _m("time_to_last_distress", "steps", "tradeoff", "contagion",
       "steps from the first origin to the last distress (slower or wider spread)"),
)

#: What the lending markets give borrowers (`sim.capital`), at step 0, at the last step and
#: averaged over the run - the mean is the figure to judge a parameter change by.
_WHEN = {"start": "at step 0", "end": "at the last step", "mean": "averaged over the run"}
_CAPITAL = tuple(
    _m(f"{stem}_{when}{suffix}", unit, way, "capital efficiency",
       f"{what}, {'one market' if suffix else 'all markets'}, {at}")
    for stem, unit, way, what in (
        ("borrowing_power_usd", "USD", "higher", "collateral x LTV at reference prices"),
        ("borrowed_usd", "USD", "higher", "the positions' debt with interest"),
        ("borrow_usage", "share", "tradeoff", "borrowed / borrowing power"))
    for when, at in _WHEN.items()
    for suffix in ("", f":{MARKET}"))

CATALOGUE: dict[str, Metric] = {m.key: m for m in (*_CATALOGUE, *_CAPITAL)}


def lookup(key: str) -> Metric | None:
    """The catalogue row of a summary key (exact, `<stem>:<market>`, `shock_cost_<key>`), or
    None for a key the catalogue does not know."""
    if key in CATALOGUE:
        return CATALOGUE[key]
    stem, colon, _ = key.rpartition(":")
    if colon and f"{stem}:{MARKET}" in CATALOGUE:
        return CATALOGUE[f"{stem}:{MARKET}"]
    if key.startswith(SHOCK_COST):
        of = lookup(key.removeprefix(SHOCK_COST))
        if of is not None:
            alias = SHOCK_COST + of.alias_of if of.alias_of else None
            return Metric(key, of.unit, f"the shock's cost on {of.key}: with shocks minus "
                          "without, same seed", of.direction, of.group, alias)
    return None


def direction(key: str) -> Direction | None:
    metric = lookup(key)
    return metric.direction if metric else None


def group(key: str) -> Group | None:
    metric = lookup(key)
    return metric.group if metric else None


def canonical(key: str) -> str:
    """The key an alias stands for (the key itself when it is not an alias)."""
    metric = lookup(key)
    return metric.alias_of if metric and metric.alias_of else key


def is_alias(key: str) -> bool:
    return canonical(key) != key


def uncatalogued(keys: list[str] | set[str]) -> list[str]:
    """The keys the catalogue has no row or pattern for, sorted."""
    return sorted(k for k in keys if lookup(k) is None)
