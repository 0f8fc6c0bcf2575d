"""Cross-references between the sections of a scenario, checked once each section is valid
on its own: pools and markets name known assets, cohorts and shocks name known protocols,
composed reserves have a build order, the treasury's policy can be imported and names what
exists. Each problem is one line naming its field (`sim.problems`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from agents.policies import BUILTIN, resolve_policy
from protocols import names
from protocols.names import is_composed
from sim.composition import LP_KINDS, find_cycle, token_issuer
from sim.shocks import effect
from spec import Bridge, Lending, OptionVault, Scenario


def reference_problems(s: Scenario) -> Iterable[str]:
    """Every problem between the sections of an otherwise valid scenario."""
    base = {a.symbol for a in s.assets}
    # a bridge's wrapped asset is listed, held and traded as an asset (protocols.bridge)
    assets = base | {p.wrapped for p in s.protocols if isinstance(p, Bridge)}
    protocol_names = [p.name for p in s.protocols]
    by_name = {p.name: p for p in s.protocols}

    seen: set[str] = set()
    for i, asset in enumerate(s.assets):
        if asset.symbol in seen:
            yield f"assets[{i}].symbol: duplicate asset {asset.symbol!r}"
        seen.add(asset.symbol)
        risky = {a.symbol for a in s.assets if a.kind == "risky"}
        if asset.kind == "pegged" and asset.peg_to != "USD" and asset.peg_to not in risky:
            yield f"assets[{i}].peg_to: must be 'USD' or a risky asset, got {asset.peg_to!r}"
        if s.market.process == "historical" and asset.data is None and asset.kind == "risky":
            yield f"assets[{i}].data: a historical market needs a data file for each risky asset"
    yield from _correlation_problems(s)

    duplicates = [f"protocols[{i}].name: duplicate protocol name {name!r}"
                  for i, name in enumerate(protocol_names) if protocol_names.index(name) != i]
    if duplicates:
        yield from duplicates
        return  # every other cross-reference finds protocols by name
    wrapped_seen: set[str] = set()
    for i, p in enumerate(s.protocols):
        where = f"protocols[{i}]"
        if isinstance(p, Bridge):
            if p.canonical not in base:
                yield f"{where}.canonical: unknown asset {p.canonical!r}"
            if p.wrapped in base or p.wrapped in wrapped_seen:
                yield (f"{where}.wrapped: {p.wrapped!r} is already an asset (a wrapped asset "
                       "is a new symbol, issued by its bridge)")
            wrapped_seen.add(p.wrapped)
            continue
        tokens = (
            list(p.reserves) if isinstance(p, Lending)
            else [p.underlying, p.quote] if isinstance(p, OptionVault)
            else p.tokens
        )
        for j, token in enumerate(tokens):
            if isinstance(p, Lending) and is_composed(token):
                yield from _composed_reserve_problems(where, p, token, by_name)
            elif token not in assets:
                field = "reserves" if isinstance(p, Lending) else "tokens"
                yield f"{where}.{field}[{j}]: unknown asset {token!r}"
            elif isinstance(p, Lending) and token not in base and p.reserves[token].borrowable:
                # liquidators' flash loans mint the debt asset from its outside issuer
                yield (f"{where}.reserves.{token}.borrowable: a bridge's wrapped asset can "
                       "only be collateral here; set false")
        if len(set(tokens)) != len(tokens):
            yield f"{where}.tokens: a token is listed twice"
        if isinstance(p, OptionVault) and p.epoch_days * 24.0 < s.step_hours:
            yield (f"{where}.epoch_days: an epoch must last at least one step "
                   f"(step_hours = {s.step_hours:g}), got {p.epoch_days:g} days")
        if isinstance(p, Lending):
            for symbol, reserve in p.reserves.items():
                pool = reserve.oracle.pool
                if pool is not None and pool not in by_name:
                    yield f"{where}.reserves.{symbol}.oracle.pool: unknown protocol {pool!r}"
                elif pool is not None and symbol not in getattr(by_name[pool], "tokens", []):
                    yield (f"{where}.reserves.{symbol}.oracle.pool: pool {pool!r} does not "
                           f"trade {symbol}")

    cycle = find_cycle(s.protocols)
    if cycle:
        i = protocol_names.index(cycle[0])
        yield (f"protocols[{i}].reserves: dependency cycle {' -> '.join(cycle)} (each accepts "
               "the next one's token, so none can be built first)")

    for i, cohort in enumerate(s.agents.borrowers):
        where = f"agents.borrowers[{i}]"
        market = by_name.get(cohort.market)
        if not isinstance(market, Lending):
            yield f"{where}.market: no lending market named {cohort.market!r}"
            continue
        coll = market.reserves.get(cohort.collateral)
        if coll is None or coll.liquidation_threshold == 0:
            yield f"{where}.collateral: {cohort.collateral!r} is not collateral in {market.name}"
        debt = market.reserves.get(cohort.debt)
        if debt is None or not debt.borrowable:
            yield f"{where}.debt: {cohort.debt!r} cannot be borrowed in {market.name}"

    venues = _venue_tokens(by_name)
    shares = {names.vault_shares(n) for n, p in by_name.items() if isinstance(p, OptionVault)}
    for symbol in s.treasury.holdings:
        if symbol in shares:
            continue  # vault shares, in shares
        if symbol in venues:
            yield (f"treasury.holdings.{symbol}: a venue token; hold it in USD with "
                   f"treasury.venues.{symbol} (only vault shares are held in units)")
        elif symbol not in assets:
            yield (f"treasury.holdings.{symbol}: unknown asset {symbol!r} (an asset, or a "
                   "vault's '<vault>:shares')")
    if s.treasury.opex_usd_per_month > 0 and s.treasury.opex_token not in assets:
        yield f"treasury.opex_token: unknown asset {s.treasury.opex_token!r}"
    forced = s.treasury.forced_sale
    if forced.runway_floor_months > 0:
        if s.treasury.token not in assets:
            yield (f"treasury.token: unknown asset {s.treasury.token!r} (forced_sale sells "
                   "the DAO's own token first)")
        if not s.usd_stables:
            yield ("treasury.forced_sale.runway_floor_months: the runway counts USD "
                   "stablecoins and the scenario has none")
    yield from _policy_problems(s, assets, by_name)
    yield from _action_problems(s, assets, by_name)

    for i, shock in enumerate(s.shocks):
        where = f"shocks[{i}]"
        if shock.step > s.steps:
            yield f"{where}.step: must be <= steps ({s.steps}), got {shock.step}"
        asset = getattr(shock, "asset", None)
        if asset is not None and asset not in assets:
            yield f"{where}.asset: unknown asset {asset!r}"
        elif asset is not None and asset not in base and shock.kind in ("crash", "depeg"):
            yield (f"{where}.asset: {asset!r} is a bridge's wrapped asset, priced at its "
                   "backing: an exploit of the bridge moves it")
        protocol = getattr(shock, "protocol", None) or getattr(shock, "market", None)
        field = "protocol" if hasattr(shock, "protocol") else "market"
        if protocol is not None and protocol not in by_name:
            yield f"{where}.{field}: unknown protocol {protocol!r}"
        yield from effect(shock).problems(where, by_name, s)


def _composed_reserve_problems(
    where: str, market: Lending, token: str, by_name: Mapping[str, Any]
) -> Iterable[str]:
    """A reserve that is another protocol's token: it must exist, not be the market's own,
    and be collateral only (borrowing receipt tokens is not modelled)."""
    issuer, problem = token_issuer(token, by_name)
    field = f"{where}.reserves.{token}"
    if problem:
        yield f"{field}: {problem}"
    elif issuer == market.name:
        yield f"{field}: a market cannot accept its own receipt token"
    elif market.reserves[token].borrowable:
        yield f"{field}.borrowable: a protocol-issued token can only be collateral; set false"
    elif market.reserves[token].oracle.source != "reference":
        yield (f"{field}.oracle.source: a protocol-issued token is priced from its issuer "
               "(source 'reference')")


def _correlation_problems(s: Scenario) -> Iterable[str]:
    corr = s.market.correlation
    if isinstance(corr, float | int):
        return
    n = sum(a.kind == "risky" for a in s.assets)
    if len(corr) != n or any(len(row) != n for row in corr):
        yield f"market.correlation: must be a {n}x{n} matrix (one row per risky asset)"
        return
    for i in range(n):
        if corr[i][i] != 1.0:
            yield f"market.correlation[{i}][{i}]: diagonal must be 1, got {corr[i][i]}"
        for j in range(n):
            if not math.isclose(corr[i][j], corr[j][i]) or abs(corr[i][j]) > 1:
                yield f"market.correlation[{i}][{j}]: must be symmetric and within [-1, 1]"
                return


VENUE_FORMS = "'<market>:a<ASSET>', '<pool>:LP', '<v3 pool>:v3', '<vault>:shares'"


def _venue_tokens(by_name: Mapping[str, Any]) -> set[str]:
    """The tokens the treasury's venues are booked under (agents.venues)."""
    venues = {names.lp_token(name) for name, p in by_name.items() if p.kind in LP_KINDS}
    venues |= {names.v3_positions(name) for name, p in by_name.items() if p.kind == "uniswap_v3"}
    venues |= {names.vault_shares(name) for name, p in by_name.items()
               if isinstance(p, OptionVault)}
    venues |= {names.receipt(name, asset) for name, p in by_name.items() if isinstance(p, Lending)
               for asset in p.reserves}
    return venues


def _policy_problems(s: Scenario, assets: set[str], by_name: Mapping[str, Any]) -> Iterable[str]:
    """The treasury policy can be built, names assets and venue tokens that exist, and can
    borrow."""
    policy, where = s.treasury.policy, "treasury.policy"
    try:
        resolve_policy(policy.kind)
    except ValueError as exc:
        yield f"{where}.kind: {exc}"
    if policy.params and policy.kind in BUILTIN:
        yield f"{where}.params: only a dotted-path (user) policy takes params"
    venues = _venue_tokens(by_name)
    for key in policy.weights:
        if key not in assets and key not in venues:
            yield (f"{where}.weights.{key}: not an asset or venue token (assets, "
                   f"{VENUE_FORMS})")
    for key in s.treasury.venues:
        if key not in venues:
            yield f"treasury.venues.{key}: not a venue token ({VENUE_FORMS})"
    for i, symbol in enumerate(policy.assets):
        if symbol not in assets:
            yield f"{where}.assets[{i}]: unknown asset {symbol!r}"
    if policy.kind == "delta_hedge" and policy.hedge_asset not in assets:
        yield f"{where}.hedge_asset: unknown asset {policy.hedge_asset!r}"
    if policy.safe_asset is not None and policy.safe_asset not in assets:
        yield f"{where}.safe_asset: unknown asset {policy.safe_asset!r}"
    elif policy.safe_asset is None and policy.kind != "static" and (
        s.treasury.opex_token not in assets
    ):
        yield (f"{where}.safe_asset: defaults to opex_token {s.treasury.opex_token!r}, "
               "not an asset: name one")
    collateral = policy.collateral or s.treasury.token
    borrows = set(policy.borrow) | (
        {policy.hedge_asset} if policy.kind == "delta_hedge" and policy.hedge_with == "borrow"
        else set()
    )
    if borrows and collateral not in assets:
        field = ("treasury.policy.collateral" if policy.collateral is not None
                 else "treasury.token")
        yield (f"{field}: unknown asset {collateral!r} (the collateral the treasury borrows "
               "against)")
    for symbol in sorted(borrows):
        field = f"borrow.{symbol}" if symbol in policy.borrow else "hedge_with"
        if symbol not in assets:
            yield f"{where}.{field}: unknown asset {symbol!r}"
        elif not any(
            isinstance(p, Lending) and symbol in p.reserves and p.reserves[symbol].borrowable
            and collateral in p.reserves
            and p.reserves[collateral].liquidation_threshold > 0
            for p in by_name.values()
        ):
            yield (f"{where}.{field}: no lending market lends {symbol} against collateral "
                   f"{collateral!r}")


#: policies whose targets default to the initial holdings (no `weights`)
REBALANCE_TO_START = ("calendar", "threshold")


def _action_problems(s: Scenario, assets: set[str], by_name: Mapping[str, Any]) -> Iterable[str]:
    """Each scheduled action names what exists, in a market of the right kind, and ends
    within the run (a window past the last step would leave part of it never tried)."""
    treasury = s.treasury
    safe = treasury.policy.safe_asset or treasury.opex_token
    pools = {names.lp_token(n) for n, p in by_name.items() if p.kind in LP_KINDS}
    pools |= {names.v3_positions(n) for n, p in by_name.items() if p.kind == "uniswap_v3"}
    collateral_default = treasury.policy.collateral or treasury.token
    for i, action in enumerate(treasury.actions):
        where = f"treasury.actions[{i}]"
        kind, asset = action.kind, action.asset
        if action.end > s.steps:
            yield (f"{where}.steps: the window (start {action.start}, {action.steps} steps) "
                   f"ends at step {action.end}, after the run's last step {s.steps}")
        if kind in ("provide", "remove"):
            if asset not in pools:
                yield (f"{where}.asset: {asset!r} is not a pool's venue token "
                       "('<pool>:LP', '<v3 pool>:v3')")
            continue
        if asset not in assets:
            yield f"{where}.asset: unknown asset {asset!r}"
            continue
        for field, value in (("into", action.into), ("with", action.with_)):
            wanted = (kind == "sell") if field == "into" else (kind == "buy")
            if not wanted:
                continue
            if value is None and safe not in assets:
                yield (f"{where}.{field}: defaults to the safe asset {safe!r}, not an asset: "
                       "name one")
            elif value is not None and value not in assets:
                yield f"{where}.{field}: unknown asset {value!r}"
            elif (value or safe) == asset:
                yield (f"{where}.{field}: defaults to the safe asset {safe!r}, the asset "
                       f"itself: name another")
        if kind not in ("deposit", "withdraw", "borrow", "repay"):
            continue
        market = by_name.get(action.venue) if action.venue is not None else None
        if action.venue is not None and not isinstance(market, Lending):
            yield f"{where}.venue: no lending market named {action.venue!r}"
            continue
        if kind in ("deposit", "withdraw") and asset not in market.reserves:
            yield f"{where}.asset: {market.name} does not list {asset!r}"
        elif kind in ("borrow", "repay"):
            collateral = action.collateral or collateral_default
            if kind == "borrow" and collateral not in assets:
                yield f"{where}.collateral: unknown asset {collateral!r}"
                continue
            lends = [p for p in ([market] if market is not None else by_name.values())
                     if isinstance(p, Lending) and asset in p.reserves
                     and p.reserves[asset].borrowable
                     and (kind == "repay" or (collateral in p.reserves and
                                              p.reserves[collateral].liquidation_threshold > 0))]
            if not lends:
                against = f" against collateral {collateral!r}" if kind == "borrow" else ""
                field = "venue" if market is not None else "asset"
                yield (f"{where}.{field}: no lending market "
                       f"{'named ' + repr(action.venue) + ' ' if market else ''}"
                       f"lends {asset}{against}")
    if treasury.actions and treasury.policy.kind in REBALANCE_TO_START \
            and not treasury.policy.weights:
        yield (f"treasury.policy.weights: a {treasury.policy.kind} policy without weights "
               "rebalances to the initial holdings and would trade treasury.actions back; "
               "set the weights the actions aim for")
