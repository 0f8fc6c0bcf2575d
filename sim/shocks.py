"""Each shock kind in one place: what it does to the exogenous paths, what it does at run
time, where it starts in the dependency graph and how hard, and what a scenario must get
right about it.

A shock in the scenario (`spec.shocks`) is pure data; `effect(shock)` gives the object of
its kind that knows its effects:
- `crash` multiplies its asset's reference path by (1 - size) from the first round of its
  step on; `depeg` deepens a pegged asset's path (`sim.paths` asks every effect);
- `exploit` moves `fraction` of the protocol's ledger balances to the exploiter: of every
  token it holds, or only of the tokens in `take` (`drain`); `oracle_freeze` freezes an
  asset's feeds (one market's, or every consumer's) for `duration` steps;
  `liquidity_withdrawal` makes liquidity providers leave a pool, or suppliers run on a
  market; `gas_spike` multiplies gas; `parameter_change` is governance re-configuring a
  lending reserve (`ShockSchedule.fire`, in the step the shock names - several may fire in
  one step);
- origins (`sim.contagion`): a crash or depeg starts at the asset's issuer node with its
  size or depth, an exploit or a withdrawal at the protocol with its fraction, a freeze at
  every consumer whose feed froze with 0 (it destroys no value by itself); a gas spike has
  no node and a parameter change is a policy, not a shock to markets.

What a drain does to a pool depends on where the pool keeps its state. Uniswap v2 and Curve
pools read their reserves from the ledger, so taking one side moves the price at once:
draining half the ETH of a GOV/ETH v2 pool holding x GOV and y ETH leaves the spot price of
GOV at (y/2)/x ETH, half of what it was, and every later quote and swap uses the new
reserves (v2 recomputes k = x*y, Curve its invariant D). A Uniswap v3 pool's price is its own
state (slot0: sqrt price, active liquidity, ticks), not its balance, as on chain: a drain
leaves its price where it was and the pool short of what its positions are owed. Swaps and
quotes then refuse any output the pool can no longer pay (InsufficientLiquidity), smaller
ones fill at the unchanged curve, and the last LPs to leave cannot collect in full. A
lending market's cash and a vault's collateral are ledger balances too: taking them leaves
suppliers' claims and the vault's shares larger than what backs them. (A v2 or Curve pool
may not be emptied of a token - fraction 1 - since it would have no price: `problems`.)
A bridge keeps its canonical asset in its lock (`<bridge>:locked`): the drain takes
`fraction` of it, which cuts the wrapped asset's backing by that fraction, reprices the
wrapped asset at once (`World.reprice_wrapped`) and pauses the bridge if it halts on an
exploit (`protocols.bridge`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import ValidationError

from agents import event_kinds
from protocols import names
from sim import prices
from sim.problems import describe
from spec import (
    Bridge,
    Crash,
    Curve,
    DepegShock,
    Exploit,
    GasSpike,
    Lending,
    LiquidityWithdrawal,
    OptionVault,
    OracleFreeze,
    ParameterChange,
    Reserve,
    Scenario,
    Shock,
    UniswapV2,
)

if TYPE_CHECKING:  # for annotations only: scenario checks import this module, and stay fast
    from protocols.oracle import Oracle
    from protocols.world import World

Record = Callable[..., None]


class Provider(Protocol):
    """A liquidity provider as a withdrawal shock sees it (agents.liquidity_provider)."""

    def withdraw_share(self, pool_name: str, fraction: float) -> dict[str, float]: ...


class ShockEffect:
    """A shock's effects; the base class has none of them (each kind overrides its own)."""

    #: False for a governance action: the contagion clock and the health snapshots start
    #: at the first shock that moves markets.
    moves_markets = True

    def __init__(self, shock: Any) -> None:
        self.shock = shock

    @property
    def step(self) -> int:
        return self.shock.step

    # -- exogenous paths ----------------------------------------------------------------
    def scale_path(self, asset: str, path: np.ndarray, rounds_per_step: int = 1) -> None:
        """Apply this shock to `asset`'s reference price path, in place. The path has a row
        per round: row (t - 1) * R + k is round k of step t, row t * R the end of step t
        (R = rounds_per_step; R = 1: row t = step t)."""

    def depegs(self, asset: str) -> list[prices.Depeg]:
        """Depeg episodes this shock adds to pegged asset `asset`'s path."""
        return []

    # -- run time -----------------------------------------------------------------------
    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        """Act on the world if this shock starts (or ends) at `step`; log it as an event."""

    def gas_multiplier(self, step: int) -> float:
        return 1.0

    # -- contagion and checks -----------------------------------------------------------
    def origins(self, world: World) -> dict[str, float]:
        """Dependency-graph nodes where this shock starts -> its initial distress."""
        return {}

    def problems(self, where: str, by_name: Mapping[str, Any], scenario: Scenario
                 ) -> Iterator[str]:
        """What the scenario gets wrong about this shock's targets (module sim.checks),
        including a shock that would change nothing: it would still count as an origin."""
        yield from ()


class CrashEffect(ShockEffect):
    shock: Crash

    def scale_path(self, asset: str, path: np.ndarray, rounds_per_step: int = 1) -> None:
        if asset == self.shock.asset:  # from round 1 of its step on
            first = max(0, (self.shock.step - 1) * rounds_per_step + 1)
            path[first:] *= 1.0 - self.shock.size

    def origins(self, world: World) -> dict[str, float]:
        return {names.issuer(self.shock.asset): self.shock.size}


class DepegEffect(ShockEffect):
    shock: DepegShock

    def depegs(self, asset: str) -> list[prices.Depeg]:
        s = self.shock
        return [prices.Depeg(s.step, s.duration, s.depth, s.recovery)] if asset == s.asset else []

    def origins(self, world: World) -> dict[str, float]:
        return {names.issuer(self.shock.asset): self.shock.depth}

    def problems(self, where: str, by_name: Mapping[str, Any], scenario: Scenario
                 ) -> Iterator[str]:
        asset = next((a for a in scenario.assets if a.symbol == self.shock.asset), None)
        if asset is not None and asset.kind != "pegged":
            yield (f"{where}.asset: a depeg moves a pegged asset off its peg; {asset.symbol} "
                   f"is {asset.kind} (a crash moves a risky asset)")


class ExploitEffect(ShockEffect):
    shock: Exploit

    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        if step == self.step:
            s = self.shock
            bridge = world.bridges.get(s.protocol)
            if bridge is None:
                drained = drain(world, s.protocol, s.fraction, s.take)
            else:  # the lock holds what the bridge holds
                drained = drain(world, bridge.locked, s.fraction, s.take)
                bridge.exploited()
                world.reprice_wrapped()
            record(event_kinds.SHOCK, shock=s.kind, node=s.protocol, amounts=drained)

    def origins(self, world: World) -> dict[str, float]:
        return {self.shock.protocol: self.shock.fraction}

    def problems(self, where: str, by_name: Mapping[str, Any], scenario: Scenario
                 ) -> Iterator[str]:
        """Every token in `take` is one the protocol holds, named once; a v2 or Curve pool
        keeps some of each token (emptied of one, it has no price: reserve 0 is outside the
        constant product, and StableSwap's invariant is undefined there)."""
        s, protocol = self.shock, by_name.get(self.shock.protocol)
        if protocol is None:
            return
        held = held_tokens(protocol)
        for j, token in enumerate(s.take or []):
            if token not in held:
                yield (f"{where}.take[{j}]: {s.protocol} holds no {token!r} "
                       f"(it holds {', '.join(held)})")
            elif s.take.index(token) != j:
                yield f"{where}.take[{j}]: {token!r} is listed twice"
        if s.fraction == 1 and isinstance(protocol, UniswapV2 | Curve):
            yield (f"{where}.fraction: 1 would leave pool {s.protocol} without "
                   f"{', '.join(s.take or held)}, and then it has no price; use a fraction below 1")


class OracleFreezeEffect(ShockEffect):
    """Freezes the asset's feed at `market`, or at every consumer that reads the asset."""

    shock: OracleFreeze

    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        s = self.shock
        if step == s.step + s.duration:
            for oracle in self._feeds(world).values():
                oracle.unfreeze()
            record(event_kinds.SHOCK_END, shock=s.kind, node=s.market or s.asset)
        if step == s.step:
            for oracle in self._feeds(world).values():
                oracle.freeze()
            record(event_kinds.SHOCK, shock=s.kind, node=s.market or s.asset)

    def origins(self, world: World) -> dict[str, float]:
        return dict.fromkeys(self._feeds(world), 0.0)

    def problems(self, where: str, by_name: Mapping[str, Any], scenario: Scenario
                 ) -> Iterator[str]:
        """The market lends; some consumer reads the asset (a freeze of a feed nobody
        reads changes nothing)."""
        market, asset = self.shock.market, self.shock.asset
        if market is not None and market in by_name and not isinstance(by_name[market], Lending):
            yield f"{where}.market: {market!r} is not a lending market"
            return
        consumers = [market] if market is not None else list(by_name)
        if any(asset in _feeds(by_name.get(c)) for c in consumers):
            return
        if market is None:
            yield (f"{where}.asset: no protocol reads an oracle of {asset!r}: freezing it "
                   "changes nothing")
        elif market in by_name:
            yield (f"{where}.asset: market {market!r} reads no oracle of {asset!r} (its "
                   f"reserves: {', '.join(by_name[market].reserves)}): freezing it changes nothing")

    def _feeds(self, world: World) -> dict[str, Oracle]:
        """Consumer -> its feed of the asset, for the consumers this freeze hits."""
        consumers = [self.shock.market] if self.shock.market else list(world.oracles)
        asset = self.shock.asset
        return {c: world.oracles[c][asset] for c in consumers
                if asset in world.oracles.get(c, {})}


class GasSpikeEffect(ShockEffect):
    shock: GasSpike

    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        if step == self.step:
            record(event_kinds.SHOCK, shock=self.shock.kind, node="gas",
                   multiplier=self.shock.multiplier)

    def gas_multiplier(self, step: int) -> float:
        active = self.shock.step <= step < self.shock.step + self.shock.duration
        return self.shock.multiplier if active else 1.0


class LiquidityWithdrawalEffect(ShockEffect):
    """Liquidity providers leave a pool, or suppliers run on a lending market as far as its
    cash allows (what is left pins utilization at 100 %)."""

    shock: LiquidityWithdrawal

    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        if step != self.step:
            return
        protocol, fraction = self.shock.protocol, self.shock.fraction
        if protocol in world.pools:
            for lp in providers:
                lp.withdraw_share(protocol, fraction)
        else:
            market = world.markets[protocol]
            supplier = names.suppliers(protocol)
            for asset in market.assets:
                wanted = market.balance_of(supplier, asset) * fraction
                amount = min(wanted, market.cash(asset))
                if amount > 0:
                    market.withdraw(supplier, asset, amount)
                    record(event_kinds.SUPPLIER_RUN, node=protocol, asset=asset, wanted=wanted,
                           withdrawn=amount)
        record(event_kinds.SHOCK, shock=self.shock.kind, node=protocol, fraction=fraction)

    def origins(self, world: World) -> dict[str, float]:
        return {self.shock.protocol: self.shock.fraction}

    def problems(self, where: str, by_name: Mapping[str, Any], scenario: Scenario
                 ) -> Iterator[str]:
        if isinstance(by_name.get(self.shock.protocol), OptionVault | Bridge):
            yield f"{where}.protocol: liquidity withdrawals apply to pools and lending markets"


class ParameterChangeEffect(ShockEffect):
    """Governance re-configures a lending reserve for every open position at once."""

    shock: ParameterChange
    moves_markets = False

    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        if step == self.step:
            s = self.shock
            world.markets[s.market].configure_reserve(s.reserve, **s.changes())
            record(event_kinds.SHOCK, shock=s.kind, node=s.market, reserve=s.reserve,
                   changes=s.changes())

    def problems(self, where: str, by_name: Mapping[str, Any], scenario: Scenario
                 ) -> Iterator[str]:
        """The market lends, the reserve exists, and the changed parameters obey the
        listing rules (spec.Reserve)."""
        s, market = self.shock, by_name.get(self.shock.market)
        if market is None:
            return
        if not isinstance(market, Lending):
            yield f"{where}.market: {s.market!r} is not a lending market"
            return
        reserve = market.reserves.get(s.reserve)
        if reserve is None:
            yield f"{where}.reserve: {s.reserve!r} is not a reserve of {market.name}"
            return
        if not s.changes():
            yield f"{where}: names no parameter to change"
        try:
            Reserve.model_validate({**reserve.model_dump(), **s.changes()})
        except ValidationError as exc:
            for error in exc.errors():
                yield f"{where}.{describe(error)}"


EFFECTS: dict[type, type[ShockEffect]] = {
    Crash: CrashEffect, DepegShock: DepegEffect, Exploit: ExploitEffect,
    OracleFreeze: OracleFreezeEffect, GasSpike: GasSpikeEffect,
    LiquidityWithdrawal: LiquidityWithdrawalEffect, ParameterChange: ParameterChangeEffect,
}


def effect(shock: Shock) -> ShockEffect:
    """The effects of `shock`, by its kind."""
    return EFFECTS[type(shock)](shock)


class ShockSchedule:
    """The scenario's shocks in scenario order, as effects; fires them at run time and
    undoes the temporary ones when they end."""

    def __init__(self, shocks: Iterable[Shock]) -> None:
        self.effects = [effect(s) for s in shocks]

    def gas_multiplier(self, step: int) -> float:
        """Product of the gas spikes active during `step`."""
        multiplier = 1.0
        for shock in self.effects:
            multiplier *= shock.gas_multiplier(step)
        return multiplier

    def fire(self, step: int, world: World, record: Record,
             providers: Sequence[Provider]) -> None:
        """Apply every shock that starts (or, for oracle freezes, ends) at `step`."""
        for shock in self.effects:
            shock.fire(step, world, record, providers)

    def origins(self, world: World) -> dict[str, float]:
        """Origin node -> initial distress; several shocks on one node combine as
        1 - prod(1 - size)."""
        sizes: dict[str, list[float]] = {}
        for shock in self.effects:
            for node, size in shock.origins(world).items():
                sizes.setdefault(node, []).append(size)
        return {node: 1.0 - math.prod(1.0 - s for s in values) for node, values in sizes.items()}


def drain(world: World, protocol: str, fraction: float,
          take: Sequence[str] | None = None) -> dict[str, float]:
    """Move `fraction` of `protocol`'s balance of each token in `take` (None: of every token
    it holds) to the exploiter; return the amounts taken (module doc: what that does to
    each kind of pool)."""
    ledger = world.ledger
    held = (ledger.balances_of(protocol) if take is None
            else {token: ledger.balance_of(protocol, token) for token in take})
    drained = {}
    for token, amount in held.items():
        ledger.transfer(token, protocol, names.EXPLOITER, amount * fraction)
        drained[token] = amount * fraction
    return drained


def _feeds(protocol: Any) -> list[str]:
    """The assets a protocol of the scenario reads an oracle of (sim.assembly): a lending
    market each reserve's, an option vault its underlying's."""
    if isinstance(protocol, Lending):
        return list(protocol.reserves)
    if isinstance(protocol, OptionVault):
        return [protocol.underlying]
    return []


def held_tokens(protocol: Any) -> list[str]:
    """The tokens a protocol of the scenario holds in the ledger: a pool its tokens, a
    lending market its reserves' assets, an option vault its collateral (the underlying of
    a call vault, the quote of a put vault)."""
    if isinstance(protocol, Lending):
        return list(protocol.reserves)
    if isinstance(protocol, OptionVault):
        return [protocol.underlying if protocol.option == "call" else protocol.quote]
    if isinstance(protocol, Bridge):
        return [protocol.canonical]
    return list(protocol.tokens)


def first_shock_step(scenario: Scenario) -> int | None:
    """Step of the first shock that moves prices or balances (a governance parameter change
    is not a shock to markets), or None."""
    steps = [s.step for s in scenario.shocks if effect(s).moves_markets]
    return min(steps) if steps else None
