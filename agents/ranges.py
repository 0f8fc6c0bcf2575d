"""Managed concentrated liquidity: a holder's Uniswap v3 ranges in one pool, re-centred by a
rule, and their impermanent loss against holding the tokens put in.

`RangeKeeper` is shared by the liquidity providers (`agents.liquidity_provider`) and the
treasury's v3 venue (`agents.venues.RangeVenue`).

The rule (`RecentreRule`): a position is re-centred when the pool's tick has been outside
its range [tick_lower, tick_upper) for `after` consecutive steps (0: never), or when the
tick is more than `band` x the range's half-width from the range's centre (0: never; 1 =
the moment it leaves the range, 0.5 = half-way to an edge). Re-centring, as a keeper
would do it on chain (e.g. Arrakis / Gamma vaults, one multicall):
1. burn the whole position and collect it, fees included;
2. pay the gas (`gas_units` at the step's price) out of what was collected, pro rata by
   value: the holder sells that slice for ETH, modelled as a transfer of its value to
   `gas-fees`, so the cost stays inside the position's record;
3. swap in the pool itself, to the split the new range needs at the price the swap leaves
   (found by bisection on that price, `ConcentratedLiquidityPool.quote_to_price`): the
   fee and the price impact are real; `swap_cost_usd` is the input valued at the pool's
   marginal price before the swap minus the output, in USD;
4. mint the largest position the tokens fund on a range of the same tick span around the
   current tick, its lower tick floored to the tick spacing; what it cannot use (a few
   ulps, or more when the pool could not fill the swap) stays in the wallet.

Impermanent loss (Loesch, Hindman, Richardson, Welch 2021, "Impermanent loss in Uniswap
v3", arXiv:2111.09192, eq. 3-6; Adams et al. 2021, the Uniswap v3 whitepaper, eq. 6.29-6.30
for a range's token amounts): per position, IL = V_position - V_hodl, both in USD at
reference prices, where V_position are the tokens burning and collecting it would return
now at the pool's price (liquidity amounts plus owed tokens and uncollected fees) and
V_hodl the tokens deposited (its basis), held. `il_ex_fees_usd` takes the fees out (those
still uncollected and those a re-centring folded into the new position, at current
prices): the divergence loss with the re-centring costs. A basis is tracked per position
across re-centrings: the new position inherits the old one's basis (so gas and swap costs
count as loss), scaled down by the share of value left in the wallet; a partial burn
(liquidity flight, a treasury exit) scales it by the liquidity kept - the fees that exit
collected leave the record with it, since `collect` pays them all. A position the
keeper first sees (seeded, minted elsewhere) is registered at what it holds then. The
figures cover the open positions: what an exit takes out leaves the record at its value
then (the loss it realised is in the holder's wallet, not here).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

from agents import event_kinds
from agents.host import Host
from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.v3_math import amounts_for_liquidity, tick_to_sqrt_price
from protocols.errors import DaosimError, InvalidAmount
from protocols.validation import check_amount

#: Bisection steps sizing the re-centring swap on its end price (2^-60 of the range).
SIZING_STEPS = 60
#: A split this close to the one needed (share of value) needs no swap.
SPLIT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RecentreRule:
    """When to re-centre (module doc): `after` steps out of range, or the tick beyond
    `band` x the half-width from the centre; 0 switches either off."""

    after: int = 0
    band: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0:
            raise InvalidAmount(f"recentre_after: must be an integer >= 0, got {self.after!r}")
        check_amount("recentre_band", self.band)

    @property
    def active(self) -> bool:
        return self.after > 0 or self.band > 0


@dataclass
class _Basis:
    """A position's HODL basis and the fees re-centrings folded into it (token amounts)."""

    hodl: list[float]
    folded: list[float] = field(default_factory=lambda: [0.0, 0.0])
    liquidity: float = 0.0
    out_steps: int = 0


@dataclass(frozen=True)
class Recentre:
    """What one re-centring did (the `recentre` event's fields)."""

    position: int
    new_position: int | None
    old_ticks: tuple[int, int]
    new_ticks: tuple[int, int]
    swap_in: float  # units sold in the swap (token0 if the position had too much of it)
    swap_out: float
    swap_cost_usd: float
    gas_usd: float
    value_usd: float
    reason: str


def recentred_ticks(tick: int, old: tuple[int, int], spacing: int) -> tuple[int, int]:
    """The range of `old`'s tick span around `tick`: lower = (tick - span // 2) floored to a
    multiple of `spacing`, upper = lower + span (the span is a multiple of the spacing)."""
    span = old[1] - old[0]
    lower = (tick - span // 2) // spacing * spacing
    return lower, lower + span


class RangeKeeper:
    """`holder`'s positions in `pool`: their bases, the rule's counters and re-centring."""

    def __init__(self, host: Host, pool: ConcentratedLiquidityPool, holder: str,
                 rule: RecentreRule, gas_units: float) -> None:
        self.host, self.pool, self.holder, self.rule = host, pool, holder, rule
        self.gas_units = check_amount("recentre_gas_units", gas_units)
        self._bases: dict[int, _Basis] = {}
        self.sync()

    # -- bookkeeping ------------------------------------------------------------------
    def register(self, position_id: int) -> None:
        """A position just minted: its basis is what it holds now."""
        position = self.pool.position(position_id)
        self._bases[position_id] = _Basis(list(self.pool.position_value(position_id)),
                                          liquidity=position.liquidity)

    def sync(self) -> None:
        """Forget closed positions, register new ones, scale a basis by the liquidity a
        burn elsewhere left (flight, exit)."""
        open_ids = self.pool.positions_of(self.holder)
        for pid in [p for p in self._bases if p not in open_ids]:
            del self._bases[pid]
        for pid in open_ids:
            basis = self._bases.get(pid)
            if basis is None:
                self.register(pid)
                continue
            liquidity = self.pool.position(pid).liquidity
            if liquidity < basis.liquidity:
                keep = liquidity / basis.liquidity
                basis.hodl = [a * keep for a in basis.hodl]
                basis.folded = [a * keep for a in basis.folded]
                basis.liquidity = liquidity

    def ranges(self) -> list[tuple[int, int]]:
        """The (tick_lower, tick_upper) of the open positions with liquidity."""
        self.sync()
        return [(p.tick_lower, p.tick_upper) for p in map(self.pool.position, self._bases)
                if p.liquidity > 0]

    # -- impermanent loss ---------------------------------------------------------------
    def il_usd(self) -> tuple[float, float]:
        """(IL with fees, IL without fees), USD, summed over the positions (module doc)."""
        self.sync()
        usd = [self.host.world.usd(t) for t in self.pool.tokens]
        value = hodl = fees = 0.0
        sqrt_price = self.pool.sqrt_price
        for pid, basis in self._bases.items():
            position = self.pool.position(pid)
            now = self.pool.position_value(pid)
            held = amounts_for_liquidity(
                sqrt_price, tick_to_sqrt_price(position.tick_lower),
                tick_to_sqrt_price(position.tick_upper), position.liquidity)
            owed = (position.tokens_owed0, position.tokens_owed1)
            for k in (0, 1):
                value += now[k] * usd[k]
                hodl += basis.hodl[k] * usd[k]
                fees += (now[k] - held[k] - owed[k] + basis.folded[k]) * usd[k]
        return value - hodl, value - hodl - fees

    # -- the rule -----------------------------------------------------------------------
    def step(self) -> list[Recentre]:
        """Advance the rule's counters one step and re-centre the positions it names."""
        if not self.rule.active:
            return []
        self.sync()
        done = []
        tick = self.pool.tick
        for pid in list(self._bases):
            basis, position = self._bases[pid], self.pool.position(pid)
            lower, upper = position.tick_lower, position.tick_upper
            basis.out_steps = basis.out_steps + 1 if not lower <= tick < upper else 0
            half = (upper - lower) / 2
            reason = None
            if self.rule.after and basis.out_steps >= self.rule.after:
                reason = "out_of_range"
            elif self.rule.band and abs(tick - (lower + half)) > self.rule.band * half:
                reason = "band"
            if reason is not None and position.liquidity > 0:
                outcome = self.recentre(pid, reason)
                if outcome is not None:
                    done.append(outcome)
        return done

    def recentre(self, position_id: int, reason: str = "rule") -> Recentre | None:
        """Burn, collect, pay gas, swap to the new split and mint (module doc); records
        `recentre`. None (nothing changed) when the pool cannot pay the position out."""
        pool, world, holder = self.pool, self.host.world, self.holder
        position = pool.position(position_id)
        old = (position.tick_lower, position.tick_upper)
        basis = self._bases.pop(position_id)
        now = pool.position_value(position_id)
        held = amounts_for_liquidity(pool.sqrt_price, tick_to_sqrt_price(old[0]),
                                     tick_to_sqrt_price(old[1]), position.liquidity)
        fees = [now[k] - held[k] - (position.tokens_owed0, position.tokens_owed1)[k]
                for k in (0, 1)]
        try:
            pool.burn(position_id, position.liquidity)
            amounts = list(pool.collect(position_id))
        except DaosimError:  # drained pool: the exit reverts; the owed tokens stay owed
            self._bases[position_id] = basis
            return None
        usd = [world.usd(t) for t in pool.tokens]
        value = math.fsum(a * u for a, u in zip(amounts, usd, strict=True))
        gas_usd = min(float(self.host.gas_cost_usd(self.gas_units)), value)
        if gas_usd > 0:
            for k, token in enumerate(pool.tokens):
                paid = amounts[k] * gas_usd / value
                world.ledger.transfer(token, holder, names.GAS_SINK, paid)
                amounts[k] -= paid
        new = recentred_ticks(pool.tick, old, pool.tick_spacing)
        amounts, (sold, bought, swap_cost) = self._swap_to_split(amounts, new, usd)
        new_id = None
        minted_value = 0.0
        # nothing fundable (all spent on gas): the tokens stay in the wallet
        with contextlib.suppress(DaosimError):
            new_id = pool.mint_for_amounts(holder, *new, *amounts)
        if new_id is not None:
            minted = pool.position_value(new_id)
            minted_value = math.fsum(m * u for m, u in zip(minted, usd, strict=True))
            left = math.fsum((a - m) * u for a, m, u in zip(amounts, minted, usd, strict=True))
            keep = minted_value / (minted_value + left) if minted_value + left > 0 else 0.0
            self._bases[new_id] = _Basis(
                [a * keep for a in basis.hodl],
                [(f + g) * keep for f, g in zip(basis.folded, fees, strict=True)],
                liquidity=pool.position(new_id).liquidity)
        outcome = Recentre(position_id, new_id, old, new, sold, bought, swap_cost, gas_usd,
                           minted_value, reason)
        self.host.record(
            event_kinds.RECENTRE, actor=holder, pool=pool.name, position=position_id,
            new_position=new_id, tick_lower_old=old[0], tick_upper_old=old[1],
            tick_lower=new[0], tick_upper=new[1], swap_in=sold, swap_out=bought,
            swap_cost_usd=swap_cost, gas_usd=gas_usd,
            value_usd=minted_value, reason=reason)
        return outcome

    def _swap_to_split(self, amounts: list[float], ticks: tuple[int, int],
                       usd: list[float]) -> tuple[list[float], tuple[float, float, float]]:
        """Swap part of `amounts` in the pool so that they fund `ticks` at the price the
        swap leaves; returns the amounts after it and (sold, bought, cost in USD)."""
        pool = self.pool
        sqrt_a, sqrt_b = tick_to_sqrt_price(ticks[0]), tick_to_sqrt_price(ticks[1])
        start = pool.sqrt_price
        if not sqrt_a < start < sqrt_b:
            return amounts, (0.0, 0.0, 0.0)

        def excess0(sqrt_price: float, sold: tuple[float, float], zero_for_one: bool) -> float:
            """token0 held times token1 needed minus token1 held times token0 needed."""
            need0, need1 = amounts_for_liquidity(sqrt_price, sqrt_a, sqrt_b, 1.0)
            x, y = amounts
            if zero_for_one:
                x, y = x - sold[0], y + sold[1]
            else:
                x, y = x + sold[1], y - sold[0]
            return x * need1 - y * need0

        need0, need1 = amounts_for_liquidity(start, sqrt_a, sqrt_b, 1.0)
        price = start * start
        if not amounts[0] * price + amounts[1] > 0:
            return amounts, (0.0, 0.0, 0.0)
        have = amounts[0] * price / (amounts[0] * price + amounts[1])
        want = need0 * price / (need0 * price + need1)
        if abs(have - want) <= SPLIT_TOLERANCE:
            return amounts, (0.0, 0.0, 0.0)
        zero_for_one = have > want
        token_in, token_out = pool.tokens if zero_for_one else pool.tokens[::-1]
        lo, hi = (sqrt_a, start) if zero_for_one else (start, sqrt_b)
        for _ in range(SIZING_STEPS):
            mid = 0.5 * (lo + hi)
            target = mid * mid if zero_for_one else 1.0 / (mid * mid)
            # a positive excess of token0 means the price must end lower, either way
            if excess0(mid, pool.quote_to_price(token_in, token_out, target), zero_for_one) > 0:
                hi = mid
            else:
                lo = mid
        end = 0.5 * (lo + hi)
        quote = pool.quote_to_price(token_in, token_out,
                                    end * end if zero_for_one else 1.0 / (end * end))
        sold = min(quote[0], amounts[0] if zero_for_one else amounts[1])
        if sold <= 0:
            return amounts, (0.0, 0.0, 0.0)
        try:
            out = pool.swap_exact_in(self.holder, token_in, token_out, sold)
        except DaosimError:
            return amounts, (0.0, 0.0, 0.0)
        marginal = price if zero_for_one else 1.0 / price  # token_out per token_in
        k_in, k_out = (0, 1) if zero_for_one else (1, 0)
        cost = (sold * marginal - out) * usd[k_out]
        amounts = list(amounts)
        amounts[k_in] -= sold
        amounts[k_out] += out
        return amounts, (sold, out, cost)
