"""Concentrated-liquidity pool with Uniswap v3 semantics, backed by the ledger.

Follows Uniswap/v3-core `UniswapV3Pool.sol` (mint / burn / collect / swap loop), `Tick.sol`
(liquidity_net / liquidity_gross, fee growth outside, cross) and `Position.sol` (fee growth
inside, tokens owed), with the float math of `protocols.amm.v3_math`. Differences, all
deliberate:

- No protocol fee, oracle observations or flash loans.
- Positions are ids (like the periphery's position NFTs): every `mint` opens a new one;
  `collect` first credits the fees accrued so far (the periphery's `collect` pokes with a zero
  burn) and closes a position that has no liquidity left.
- A swap without `sqrt_price_limit` must fill completely, else InsufficientLiquidity and
  nothing changes; with a limit it stops there and fills partially, as the contract does.
- Float sums cannot make "no liquidity" exactly zero, so ticks and the active range also count
  the positions referencing them: a tick is cleared, and the active liquidity is exactly 0,
  when that count is 0.
- Float rounding can leave the pool a few ulps short of a payout; a shortfall within
  `DUST_RTOL` of the token's supply pays the pool's whole balance instead. A larger one (the
  pool was drained) raises InsufficientLiquidity, as the contract's transfer would revert.

The pool holds its tokens in the ledger under `name`. `reserves()` is that balance, which
includes tokens owed to positions (burned liquidity and fees) until they are collected. The
price is the pool's own state, not that balance: tokens taken from the pool (an exploit)
leave the price where it was, and swaps and exact quotes refuse any output beyond what the
pool still holds.
"""

import dataclasses
import math
from bisect import bisect_right, insort
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

from protocols.amm.v3_math import (
    MAX_SQRT_PRICE,
    MAX_TICK,
    MIN_SQRT_PRICE,
    MIN_TICK,
    _amount0,
    _amount1,
    _amounts_for_liquidity,
    _check_tick,
    _sqrt_price_at,
    _swap_step,
    _tick_at,
    liquidity_for_amounts,
    sqrt_price_to_tick,
)
from protocols.errors import (
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    SlippageExceeded,
    UnknownToken,
)
from protocols.ledger import Ledger
from protocols.validation import check_amount, check_fraction

#: A payout may exceed the pool's balance by this fraction of the token's supply: float error
#: builds up relative to the balances the pool has held, and the supply bounds those.
DUST_RTOL = 1e-12

#: UniswapV3Factory.enableFeeAmount: 0 < tickSpacing < 16384.
_MAX_TICK_SPACING = 16384


@dataclass(slots=True)
class Tick:
    """An initialized tick (Tick.Info). Fee growth outside is per unit of liquidity, on the side
    of the tick away from the current price; `n_gross` / `n_net` count the positions that
    reference the tick (lower +1, upper -1 for `n_net`), exactly."""

    sqrt_price: float
    liquidity_gross: float = 0.0
    liquidity_net: float = 0.0
    fee_growth_outside0: float = 0.0
    fee_growth_outside1: float = 0.0
    n_gross: int = 0
    n_net: int = 0


@dataclass(slots=True)
class Position:
    """A liquidity position (Position.Info plus its owner and range)."""

    owner: str
    tick_lower: int
    tick_upper: int
    liquidity: float = 0.0
    fee_growth_inside0_last: float = 0.0
    fee_growth_inside1_last: float = 0.0
    tokens_owed0: float = 0.0
    tokens_owed1: float = 0.0


class _Swap(NamedTuple):
    """Outcome of the swap loop, computed without touching the pool (quotes reuse it)."""

    amount_in: float  # paid by the trader, fee included
    amount_out: float
    sqrt_price: float
    tick: int
    liquidity: float
    n_active: int
    fee_growth: float  # new global fee growth of the input token
    crossed: list[tuple[int, float]]  # (tick, input-token fee growth when it was crossed)


class ConcentratedLiquidityPool:
    """A Uniswap v3 pool of `token0` / `token1`; prices are token1 per token0.

    Uniswap's fee tiers (fee -> tick spacing): 0.0001 -> 1, 0.0005 -> 10, 0.003 -> 60,
    0.01 -> 200 (`v3_math.FEE_TICK_SPACING`; the data folder's uniswap_v3_fee_tiers.csv).
    Liquidity is held as positions (the periphery's NFTs), not as a fungible token, so
    `lp_token` is None.
    """

    lp_token: str | None = None

    def __init__(
        self,
        ledger: Ledger,
        name: str,
        token0: str,
        token1: str,
        fee: float = 0.003,
        tick_spacing: int = 60,
        sqrt_price: float = 1.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidAmount(f"name: must be a non-empty string, got {name!r}")
        if token0 == token1:
            raise InvalidAmount(f"token1: must differ from token0, both are {token0!r}")
        ledger.total_supply(token0)  # UnknownToken unless both exist
        ledger.total_supply(token1)
        if (
            isinstance(tick_spacing, bool)
            or not isinstance(tick_spacing, Integral)
            or not 0 < tick_spacing < _MAX_TICK_SPACING
        ):
            raise InvalidAmount(
                f"tick_spacing: must be an integer in [1, {_MAX_TICK_SPACING}), "
                f"got {tick_spacing!r}"
            )
        self.ledger = ledger
        self.name = name
        self.tokens: tuple[str, str] = (token0, token1)
        self.fee = check_fraction("fee", fee, upper_open=True)
        self.tick_spacing = int(tick_spacing)
        self._tick = sqrt_price_to_tick(sqrt_price)
        self._sqrt_price = float(sqrt_price)
        self._liquidity = 0.0
        self._n_active = 0  # positions in range: the active liquidity is 0 exactly when this is
        self._fee_growth_global = [0.0, 0.0]
        self._ticks: dict[int, Tick] = {}
        self._tick_list: list[int] = []  # initialized ticks, ascending
        self._positions: dict[int, Position] = {}
        self._next_position_id = 1

    # -- state ----------------------------------------------------------------------------
    @property
    def sqrt_price(self) -> float:
        return self._sqrt_price

    @property
    def tick(self) -> int:
        """Current tick (slot0.tick): after crossing tick T downwards it is T - 1."""
        return self._tick

    @property
    def liquidity(self) -> float:
        """Active (in-range) liquidity."""
        return self._liquidity

    @property
    def fee_growth_global(self) -> tuple[float, float]:
        """All-time fees per unit of liquidity, per token (feeGrowthGlobal{0,1}X128 / 2**128)."""
        return self._fee_growth_global[0], self._fee_growth_global[1]

    def position(self, position_id: int) -> Position:
        """A copy of an open position."""
        return dataclasses.replace(self._position(position_id))

    def positions_of(self, owner: str) -> list[int]:
        """Ids of `owner`'s open positions, oldest first (v3 positions are not ledger
        tokens, so this is how valuations and the dependency graph find them)."""
        return [pid for pid, p in self._positions.items() if p.owner == owner]

    def initialized_ticks(self) -> dict[int, Tick]:
        """Copies of the initialized ticks, ascending (the liquidity distribution)."""
        return {t: dataclasses.replace(self._ticks[t]) for t in self._tick_list}

    def reserves(self) -> dict[str, float]:
        """The pool's ledger balances, including owed but uncollected tokens and fees."""
        return {token: self.ledger.balance_of(self.name, token) for token in self.tokens}

    def spot_price(self, base: str, quote: str) -> float:
        """Marginal price of 1 `base` in `quote`, fee excluded: sqrt_price**2 for token0."""
        price = self._sqrt_price * self._sqrt_price
        return price if self._zero_for_one(base, quote, "base", "quote") else 1 / price

    # -- positions ------------------------------------------------------------------------
    def mint(self, owner: str, tick_lower: int, tick_upper: int, liquidity: float) -> int:
        """Open a position of `liquidity` on [tick_lower, tick_upper) and take the tokens it
        needs from `owner` (UniswapV3Pool.mint / _modifyPosition). Returns its id."""
        liquidity = check_amount("liquidity", liquidity, allow_zero=False)
        return self._mint(owner, tick_lower, tick_upper, liquidity)

    def mint_for_amounts(
        self, owner: str, tick_lower: int, tick_upper: int, amount0_max: float, amount1_max: float
    ) -> int:
        """Open the largest position that `amount0_max` / `amount1_max` fund at the current price
        (LiquidityAmounts.getLiquidityForAmounts, as the periphery's mint does)."""
        self._check_ticks(tick_lower, tick_upper)
        amount0_max = check_amount("amount0_max", amount0_max)
        amount1_max = check_amount("amount1_max", amount1_max)
        liquidity = liquidity_for_amounts(
            self._sqrt_price,
            _sqrt_price_at(tick_lower),
            _sqrt_price_at(tick_upper),
            amount0_max,
            amount1_max,
        )
        if not liquidity > 0:
            raise InvalidAmount(
                f"amount0_max, amount1_max: ({amount0_max!r}, {amount1_max!r}) fund no liquidity "
                f"on [{tick_lower}, {tick_upper}) at tick {self._tick}"
            )
        # Float rounding may ask an ulp more than the maxima; never take more than offered.
        return self._mint(owner, tick_lower, tick_upper, liquidity, amount0_max, amount1_max)

    def burn(self, position_id: int, liquidity: float) -> tuple[float, float]:
        """Remove `liquidity` from a position; its tokens become owed, paid by `collect`
        (UniswapV3Pool.burn). `collect` credits fees itself, so zero-amount pokes are refused."""
        position = self._position(position_id)
        liquidity = check_amount("liquidity", liquidity, allow_zero=False)
        if liquidity > position.liquidity:
            raise InvalidAmount(
                f"liquidity: position {position_id} holds {position.liquidity!r}, "
                f"cannot burn {liquidity!r}"
            )
        lower, upper = position.tick_lower, position.tick_upper
        amount0, amount1 = self._amounts_for_delta(lower, upper, liquidity)
        self._modify(position, -liquidity)
        position.tokens_owed0 += amount0
        position.tokens_owed1 += amount1
        return amount0, amount1

    def collect(self, position_id: int) -> tuple[float, float]:
        """Pay the owner every token owed to the position, accrued fees included
        (UniswapV3Pool.collect after the periphery's fee poke). Closes an emptied position."""
        position = self._position(position_id)
        owed0, owed1 = position.tokens_owed0, position.tokens_owed1
        if position.liquidity > 0:
            fees0, fees1, inside0, inside1 = self._fees_since_update(position)
            owed0, owed1 = owed0 + fees0, owed1 + fees1
        token0, token1 = self.tokens
        amount0, amount1 = self._payable(token0, owed0), self._payable(token1, owed1)
        self.ledger.transfer(token0, self.name, position.owner, amount0)
        self.ledger.transfer(token1, self.name, position.owner, amount1)
        position.tokens_owed0 = position.tokens_owed1 = 0.0
        if position.liquidity > 0:
            position.fee_growth_inside0_last, position.fee_growth_inside1_last = inside0, inside1
        else:
            del self._positions[position_id]
        return amount0, amount1

    def position_value(
        self, position_id: int, sqrt_price: float | None = None
    ) -> tuple[float, float]:
        """Tokens the position would return if burned and collected at `sqrt_price` (default:
        the current one): its liquidity's amounts plus owed tokens and uncollected fees."""
        position = self._position(position_id)
        if sqrt_price is None:
            sqrt_price = self._sqrt_price
        else:
            sqrt_price = check_amount("sqrt_price", sqrt_price, allow_zero=False)
        amount0, amount1 = _amounts_for_liquidity(
            sqrt_price,
            _sqrt_price_at(position.tick_lower),
            _sqrt_price_at(position.tick_upper),
            position.liquidity,
        )
        fees0, fees1 = self._fees_since_update(position)[:2] if position.liquidity else (0.0, 0.0)
        return amount0 + position.tokens_owed0 + fees0, amount1 + position.tokens_owed1 + fees1

    def total_liquidity(self) -> float:
        """The positions' liquidity L summed over ranges (Uniswap v3 whitepaper, Adams et
        al. 2021, section 6.2: L = sqrt(x*y) of each position's virtual reserves), which
        swaps never change and burns reduce, times the share of what the positions are
        owed that the pool still holds, the scarcer token's (1 unless drained: a drain
        leaves L and the price alone, module doc, but the LPs cannot be paid)."""
        total = math.fsum(p.liquidity for p in self._positions.values())
        owed = [0.0, 0.0]
        for pid in self._positions:
            for k, amount in enumerate(self.position_value(pid)):
                owed[k] += amount
        held = self.reserves()
        backed = min((min(1.0, held[t] / o) for t, o in zip(self.tokens, owed, strict=True)
                      if o > 0), default=1.0)
        return total * backed

    # -- swaps ----------------------------------------------------------------------------
    def quote_exact_in(self, token_in: str, token_out: str, amount_in: float) -> float:
        """What `swap_exact_in` would pay out now, changing nothing: InsufficientLiquidity,
        as the swap, when the pool's balance cannot pay it (a drained pool)."""
        zero_for_one = self._zero_for_one(token_in, token_out)
        amount_in = check_amount("amount_in", amount_in, allow_zero=False)
        return self._payable(token_out, self._simulate(zero_for_one, amount_in, None).amount_out)

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: float) -> float:
        """What `swap_exact_out` would take for `amount_out`, fee included; changes nothing.
        InsufficientLiquidity, as the swap, when the pool's balance cannot pay it."""
        zero_for_one = self._zero_for_one(token_in, token_out)
        amount_out = check_amount("amount_out", amount_out, allow_zero=False)
        amount_in = self._simulate(zero_for_one, -amount_out, None).amount_in
        self._payable(token_out, amount_out)
        return amount_in

    def quote_to_price(self, token_in: str, token_out: str, price: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the swap that brings the marginal price of `token_in`
        in `token_out` (fee excluded) down to `price`: the contract's way to trade to a
        target, an unbounded exact-input swap with a sqrt price limit. (0, 0) when the price
        is already there or below; past the last liquidity the price moves for free.

        Because the fee is taken from the input before the price moves, the marginal output
        per unit input after this swap is (1 - fee) * price: selling up to
        price = p_external / (1 - fee) is the profit-maximising arbitrage.
        """
        zero_for_one = self._zero_for_one(token_in, token_out)
        price = check_amount("price", price, allow_zero=False)
        limit = math.sqrt(price) if zero_for_one else 1.0 / math.sqrt(price)
        if zero_for_one:
            if limit >= self._sqrt_price:
                return 0.0, 0.0
            limit = max(limit, math.nextafter(MIN_SQRT_PRICE, math.inf))
        else:
            if limit <= self._sqrt_price:
                return 0.0, 0.0
            limit = min(limit, math.nextafter(MAX_SQRT_PRICE, 0.0))
        swap = self._simulate(zero_for_one, math.inf, limit)
        return swap.amount_in, swap.amount_out

    def quote_to_rate(self, token_in: str, token_out: str, rate: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the next unit of
        `token_in` pays `rate` of `token_out`, fee included: `quote_to_price` to
        rate / (1 - fee), since the fee is taken from the input before the price moves."""
        return self.quote_to_price(token_in, token_out, rate / (1.0 - self.fee))

    def swap_exact_in(
        self,
        trader: str,
        token_in: str,
        token_out: str,
        amount_in: float,
        min_amount_out: float = 0.0,
    ) -> float:
        """Sell exactly `amount_in` (fee included) and return the output paid to `trader`."""
        zero_for_one = self._zero_for_one(token_in, token_out)
        amount_in = check_amount("amount_in", amount_in, allow_zero=False)
        min_amount_out = check_amount("min_amount_out", min_amount_out)
        swap = self._simulate(zero_for_one, amount_in, None)
        if swap.amount_out < min_amount_out:
            raise SlippageExceeded(
                f"min_amount_out: swap pays {swap.amount_out!r} {token_out}, "
                f"below {min_amount_out!r}"
            )
        return self._settle(trader, zero_for_one, swap)

    def swap_exact_out(
        self,
        trader: str,
        token_in: str,
        token_out: str,
        amount_out: float,
        max_amount_in: float = math.inf,
    ) -> float:
        """Buy exactly `amount_out` and return the input taken from `trader`, fee included."""
        zero_for_one = self._zero_for_one(token_in, token_out)
        amount_out = check_amount("amount_out", amount_out, allow_zero=False)
        if isinstance(max_amount_in, bool) or not isinstance(max_amount_in, Real):
            raise InvalidAmount(f"max_amount_in: must be a number, got {max_amount_in!r}")
        if math.isnan(max_amount_in) or max_amount_in < 0:
            raise InvalidAmount(f"max_amount_in: must be >= 0, got {max_amount_in!r}")
        swap = self._simulate(zero_for_one, -amount_out, None)
        if swap.amount_in > max_amount_in:
            raise SlippageExceeded(
                f"max_amount_in: swap costs {swap.amount_in!r} {token_in}, above {max_amount_in!r}"
            )
        self._settle(trader, zero_for_one, swap)
        return swap.amount_in

    def swap(
        self,
        trader: str,
        zero_for_one: bool,
        amount_specified: float,
        sqrt_price_limit: float | None = None,
    ) -> tuple[float, float]:
        """UniswapV3Pool.swap: `amount_specified` > 0 sells exactly that much, < 0 buys exactly
        that much. With `sqrt_price_limit` the swap stops at that price (partial fill); moving
        the price to a target is a swap of a huge amount with a limit. Returns the pool's
        balance changes (amount0, amount1): positive received from, negative paid to `trader`.
        """
        if not isinstance(zero_for_one, bool):
            raise InvalidAmount(f"zero_for_one: must be a bool, got {zero_for_one!r}")
        if (
            isinstance(amount_specified, bool)
            or not isinstance(amount_specified, Real)
            or not math.isfinite(amount_specified)
            or amount_specified == 0
        ):
            raise InvalidAmount(
                f"amount_specified: must be a finite non-zero number, got {amount_specified!r}"
            )
        swap = self._simulate(zero_for_one, float(amount_specified), sqrt_price_limit)
        received, paid = swap.amount_in, 0.0 - self._settle(trader, zero_for_one, swap)
        return (received, paid) if zero_for_one else (paid, received)

    # -- internals: swap loop -------------------------------------------------------------
    def _simulate(
        self, zero_for_one: bool, amount_specified: float, sqrt_price_limit: float | None
    ) -> _Swap:
        """The UniswapV3Pool.swap loop, without side effects: step to the next initialized tick
        or the price limit, cross ticks (liquidity_net), accumulate fee growth per liquidity."""
        bound = MIN_SQRT_PRICE if zero_for_one else MAX_SQRT_PRICE
        limit = bound
        if sqrt_price_limit is not None:
            limit = self._check_limit(sqrt_price_limit, zero_for_one)
        exact_in = amount_specified > 0
        remaining, total_in, total_out = amount_specified, 0.0, 0.0
        sqrt_price, tick = self._sqrt_price, self._tick
        liquidity, n_active = self._liquidity, self._n_active
        fee_growth = self._fee_growth_global[0 if zero_for_one else 1]
        crossed: list[tuple[int, float]] = []

        while sqrt_price != limit and (remaining > 0 if exact_in else remaining < 0):
            tick_next, info = self._next_initialized_tick(tick, zero_for_one)
            sqrt_next_tick = bound if info is None else info.sqrt_price
            beyond_limit = sqrt_next_tick < limit if zero_for_one else sqrt_next_tick > limit
            target = limit if beyond_limit else sqrt_next_tick
            start = sqrt_price
            sqrt_price, step_in, step_out, step_fee = _swap_step(
                sqrt_price, target, liquidity, remaining, self.fee
            )
            total_in += step_in + step_fee
            total_out += step_out
            remaining += -(step_in + step_fee) if exact_in else step_out
            if liquidity > 0:
                fee_growth += step_fee / liquidity
            if sqrt_price != target:
                remaining = 0.0  # a step that stops short has used the whole amount
            if sqrt_price == sqrt_next_tick:
                if info is not None:
                    crossed.append((tick_next, fee_growth))
                    sign = -1 if zero_for_one else 1  # leftward: liquidity_net with opposite sign
                    n_active += sign * info.n_net
                    liquidity = max(liquidity + sign * info.liquidity_net, 0.0) if n_active else 0.0
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sqrt_price != start:
                tick = _tick_at(sqrt_price)

        done = remaining <= 0 if exact_in else remaining >= 0
        if sqrt_price_limit is None and (not done or sqrt_price == bound):
            raise InsufficientLiquidity(
                f"amount_specified: pool {self.name} lacks the liquidity to fill "
                f"{abs(amount_specified)!r} (exact {'input' if exact_in else 'output'})"
            )
        # A filled swap moves exactly the specified amount; float step sums only approach it.
        amount_in = amount_specified if exact_in and done else total_in
        amount_out = -amount_specified if not exact_in and done else total_out
        return _Swap(
            amount_in, amount_out, sqrt_price, tick, liquidity, n_active, fee_growth, crossed
        )

    def _next_initialized_tick(self, tick: int, zero_for_one: bool) -> tuple[int, Tick | None]:
        """Nearest initialized tick at or below `tick` (leftward) or above it (rightward);
        (MIN_TICK / MAX_TICK, None) when there is none (TickBitmap + the swap loop's clamp)."""
        i = bisect_right(self._tick_list, tick)
        if zero_for_one:
            if i == 0:
                return MIN_TICK, None
            i -= 1
        elif i == len(self._tick_list):
            return MAX_TICK, None
        tick_next = self._tick_list[i]
        return tick_next, self._ticks[tick_next]

    def _check_limit(self, sqrt_price_limit: float, zero_for_one: bool) -> float:
        """The contract's 'SPL' check: strictly between the bound and the current price."""
        limit = check_amount("sqrt_price_limit", sqrt_price_limit, allow_zero=False)
        if zero_for_one and not MIN_SQRT_PRICE < limit < self._sqrt_price:
            raise InvalidAmount(
                f"sqrt_price_limit: selling token0 needs MIN_SQRT_PRICE < limit < "
                f"{self._sqrt_price!r}, got {limit!r}"
            )
        if not zero_for_one and not self._sqrt_price < limit < MAX_SQRT_PRICE:
            raise InvalidAmount(
                f"sqrt_price_limit: selling token1 needs {self._sqrt_price!r} < limit < "
                f"MAX_SQRT_PRICE, got {limit!r}"
            )
        return limit

    def _settle(self, trader: str, zero_for_one: bool, swap: _Swap) -> float:
        """Move the tokens, then commit the simulated state; every check happens first.
        Returns the output paid (`swap.amount_out` unless float dust was short)."""
        token_in, token_out = self.tokens if zero_for_one else self.tokens[::-1]
        self._require_balance(trader, token_in, swap.amount_in, "amount_in")
        amount_out = self._payable(token_out, swap.amount_out)
        self.ledger.transfer(token_in, trader, self.name, swap.amount_in)
        self.ledger.transfer(token_out, self.name, trader, amount_out)

        other_growth = self._fee_growth_global[1 if zero_for_one else 0]
        for tick, fee_growth in swap.crossed:  # Tick.cross
            info = self._ticks[tick]
            growth0, growth1 = (
                (fee_growth, other_growth) if zero_for_one else (other_growth, fee_growth)
            )
            info.fee_growth_outside0 = growth0 - info.fee_growth_outside0
            info.fee_growth_outside1 = growth1 - info.fee_growth_outside1
        self._fee_growth_global[0 if zero_for_one else 1] = swap.fee_growth
        self._sqrt_price, self._tick = swap.sqrt_price, swap.tick
        self._liquidity, self._n_active = swap.liquidity, swap.n_active
        return amount_out

    # -- internals: positions -------------------------------------------------------------
    def _mint(
        self,
        owner: str,
        tick_lower: int,
        tick_upper: int,
        liquidity: float,
        amount0_max: float = math.inf,
        amount1_max: float = math.inf,
    ) -> int:
        self._check_ticks(tick_lower, tick_upper)
        amount0, amount1 = self._amounts_for_delta(tick_lower, tick_upper, liquidity)
        amount0, amount1 = min(amount0, amount0_max), min(amount1, amount1_max)
        token0, token1 = self.tokens
        self._require_balance(owner, token0, amount0, "liquidity")
        self._require_balance(owner, token1, amount1, "liquidity")
        self.ledger.transfer(token0, owner, self.name, amount0)
        self.ledger.transfer(token1, owner, self.name, amount1)

        position = Position(owner, int(tick_lower), int(tick_upper))
        self._modify(position, liquidity)
        position_id = self._next_position_id
        self._next_position_id += 1
        self._positions[position_id] = position
        return position_id

    def _amounts_for_delta(
        self, tick_lower: int, tick_upper: int, liquidity: float
    ) -> tuple[float, float]:
        """Tokens behind `liquidity` on the range at the current tick (_modifyPosition): only
        token0 below the range, only token1 above it, both inside."""
        sqrt_lower, sqrt_upper = _sqrt_price_at(tick_lower), _sqrt_price_at(tick_upper)
        if self._tick < tick_lower:
            return _amount0(sqrt_lower, sqrt_upper, liquidity), 0.0
        if self._tick < tick_upper:
            return (
                _amount0(self._sqrt_price, sqrt_upper, liquidity),
                _amount1(sqrt_lower, self._sqrt_price, liquidity),
            )
        return 0.0, _amount1(sqrt_lower, sqrt_upper, liquidity)

    def _modify(self, position: Position, delta: float) -> None:
        """_updatePosition + the active-liquidity part of _modifyPosition for a non-zero liquidity
        change `delta` that opens (from 0), changes, or closes (to 0) the position."""
        opening = position.liquidity == 0
        closing = position.liquidity + delta == 0
        count = 1 if opening else -1 if closing else 0
        lower, upper = position.tick_lower, position.tick_upper
        for tick, sign in ((lower, 1), (upper, -1)):  # Tick.update
            info = self._ticks.get(tick)
            if info is None:
                info = Tick(_sqrt_price_at(tick))
                if tick <= self._tick:  # growth before initialization counts as below the tick
                    info.fee_growth_outside0, info.fee_growth_outside1 = self._fee_growth_global
                self._ticks[tick] = info
                insort(self._tick_list, tick)
            info.liquidity_gross += delta
            info.liquidity_net += sign * delta
            info.n_gross += count
            info.n_net += sign * count

        self._accrue_fees(position)
        position.liquidity = 0.0 if closing else position.liquidity + delta

        for tick in (lower, upper):  # clear ticks no position references any more
            if self._ticks[tick].n_gross == 0:
                del self._ticks[tick]
                self._tick_list.remove(tick)
        if lower <= self._tick < upper:
            self._n_active += count
            self._liquidity = max(self._liquidity + delta, 0.0) if self._n_active else 0.0

    def _fee_growth_inside(self, tick_lower: int, tick_upper: int) -> tuple[float, float]:
        """Fee growth per liquidity inside a range (Tick.getFeeGrowthInside): global growth
        minus the growth below the lower tick and above the upper one."""
        lower, upper = self._ticks[tick_lower], self._ticks[tick_upper]
        growth0, growth1 = self._fee_growth_global
        below0, below1 = lower.fee_growth_outside0, lower.fee_growth_outside1
        if self._tick < tick_lower:
            below0, below1 = growth0 - below0, growth1 - below1
        above0, above1 = upper.fee_growth_outside0, upper.fee_growth_outside1
        if self._tick >= tick_upper:
            above0, above1 = growth0 - above0, growth1 - above1
        return growth0 - below0 - above0, growth1 - below1 - above1

    def _fees_since_update(self, position: Position) -> tuple[float, float, float, float]:
        """Fees earned since the position's last update, and the growth inside (Position.update).
        Growth inside a range never falls: a negative difference is float rounding."""
        inside0, inside1 = self._fee_growth_inside(position.tick_lower, position.tick_upper)
        fees0 = max(inside0 - position.fee_growth_inside0_last, 0.0) * position.liquidity
        fees1 = max(inside1 - position.fee_growth_inside1_last, 0.0) * position.liquidity
        return fees0, fees1, inside0, inside1

    def _accrue_fees(self, position: Position) -> None:
        fees0, fees1, inside0, inside1 = self._fees_since_update(position)
        position.tokens_owed0 += fees0
        position.tokens_owed1 += fees1
        position.fee_growth_inside0_last, position.fee_growth_inside1_last = inside0, inside1

    # -- internals: checks ----------------------------------------------------------------
    def _position(self, position_id: int) -> Position:
        try:
            return self._positions[position_id]
        except (KeyError, TypeError):
            raise InvalidAmount(
                f"position_id: pool {self.name} has no open position {position_id!r}"
            ) from None

    def _check_ticks(self, tick_lower: int, tick_upper: int) -> None:
        _check_tick("tick_lower", tick_lower)
        _check_tick("tick_upper", tick_upper)
        if tick_lower >= tick_upper:
            raise InvalidAmount(
                f"tick_lower: must be < tick_upper, got {tick_lower} >= {tick_upper}"
            )
        for arg, tick in (("tick_lower", tick_lower), ("tick_upper", tick_upper)):
            if tick % self.tick_spacing:
                raise InvalidAmount(
                    f"{arg}: must be a multiple of the tick spacing {self.tick_spacing}, got {tick}"
                )

    def _zero_for_one(
        self, token_in: str, token_out: str, arg_in: str = "token_in", arg_out: str = "token_out"
    ) -> bool:
        for arg, token in ((arg_in, token_in), (arg_out, token_out)):
            if token not in self.tokens:
                raise UnknownToken(f"{arg}: pool {self.name} trades {self.tokens}, not {token!r}")
        if token_in == token_out:
            raise InvalidAmount(f"{arg_out}: must differ from {arg_in}, both are {token_in!r}")
        return token_in == self.tokens[0]

    def _require_balance(self, holder: str, token: str, amount: float, arg: str) -> None:
        balance = self.ledger.balance_of(holder, token)
        if amount > balance:
            raise InsufficientBalance(
                f"{arg}: {holder!r} holds {balance!r} {token}, needs {amount!r}"
            )

    def _payable(self, token: str, amount: float) -> float:
        """`amount`, or the pool's whole balance when it falls short by float dust only."""
        balance = self.ledger.balance_of(self.name, token)
        if amount <= balance:
            return amount
        if amount - balance <= DUST_RTOL * self.ledger.total_supply(token):
            return balance
        raise InsufficientLiquidity(
            f"amount: pool {self.name} holds {balance!r} {token}, cannot pay {amount!r}"
        )
