"""Constant-product AMM with Uniswap v2 semantics: pure swap math and a ledger-backed pool.

Sources: Uniswap v2 whitepaper (Adams, Zinsmeister, Robinson 2020); v2-core
`UniswapV2Pair.sol` (mint, burn, swap); v2-periphery `UniswapV2Library.sol` (quote,
getAmountOut, getAmountIn) and `UniswapV2Router02.sol` (_addLiquidity). Floats replace the
contracts' integer arithmetic (no flooring, no +1 wei); nothing else differs.

The pure functions take scalars or numpy arrays (element-wise, e.g. one call for many pools
or a whole price-impact curve) and validate both. Prices are "units of the second token per
unit of the first"; fees are fractions of the input (0.003 = 30 bp).
"""

import math
from collections.abc import Mapping

import numpy as np

from protocols import names
from protocols.errors import (
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    SlippageExceeded,
    UnknownToken,
)
from protocols.ledger import Ledger
from protocols.validation import check_amount, check_fraction

Amount = float | np.ndarray

#: UniswapV2Pair.MINIMUM_LIQUIDITY = 10**3 wei of the 18-decimal LP token, locked at the first
#: mint so that no one can make one LP share absurdly expensive (whitepaper section 3.4).
MINIMUM_LIQUIDITY = 1e-15


def locked_liquidity(liquidity: float) -> float:
    """LP locked at a first mint of `liquidity` = sqrt(x*y): MINIMUM_LIQUIDITY, or two ulps of
    `liquidity` where that is more (from 4 LP up).

    A float supply cannot hold 1e-15 next to a mint above ~16: the first LP would own the whole
    supply and could empty the pool, which the locked 1000 wei prevent on chain. Two ulps is
    the least it keeps exactly: the supply minus the first LP's balance is then the lock.
    """
    return max(MINIMUM_LIQUIDITY, 2.0 * math.ulp(liquidity))


# -- validation of scalar-or-array inputs ---------------------------------------------------
def _amount(name: str, value: Amount, *, allow_zero: bool = True) -> Amount:
    """`check_amount` for scalars; the same rule, element-wise, for numpy arrays."""
    if not isinstance(value, np.ndarray):
        return check_amount(name, value, allow_zero=allow_zero)
    if value.dtype.kind not in "iuf":
        raise InvalidAmount(f"{name}: must be a numeric array, got dtype {value.dtype}")
    value = value.astype(float)
    if not np.isfinite(value).all():
        raise InvalidAmount(f"{name}: every element must be finite")
    if (value < 0).any() or (not allow_zero and (value == 0).any()):
        raise InvalidAmount(f"{name}: every element must be {'>= 0' if allow_zero else '> 0'}")
    return value


def _any(condition: bool | np.ndarray) -> bool:
    """A scalar comparison as is, an array one if any element holds (np.any is slow on scalars)."""
    return bool(condition.any()) if isinstance(condition, np.ndarray) else condition


def _reserve(name: str, value: Amount) -> Amount:
    """A pool reserve: a valid amount, and zero means there is nothing to trade against."""
    value = _amount(name, value)
    if _any(value == 0):
        raise InsufficientLiquidity(f"{name}: the pool has no liquidity (reserve is 0)")
    return value


def _gamma(fee: float) -> float:
    """1 - fee: the share of the input that counts towards the invariant."""
    return 1.0 - check_fraction("fee", fee, upper_open=True)


# -- pure functions --------------------------------------------------------------------------
# The unchecked formulas, shared by the checked public functions and by the pool (whose
# reserves come from the ledger and are valid by construction; validating twice would cost
# a third of a swap).
def _amount_out(amount_in: Amount, reserve_in: Amount, reserve_out: Amount, g: float) -> Amount:
    effective_in = g * amount_in
    return reserve_out * (effective_in / (reserve_in + effective_in))


def _amount_in(amount_out: Amount, reserve_in: Amount, reserve_out: Amount, g: float) -> Amount:
    return reserve_in * amount_out / ((reserve_out - amount_out) * g)


def _input_to_rate(reserve_in: float, reserve_out: float, rate: float, g: float) -> float:
    """`amount_in_to_target_price` on Python floats: the same operations in the same order
    (sqrt is correctly rounded in both), without numpy's cost per scalar."""
    rate_over_target = g * reserve_out / (reserve_in * rate)
    return max(reserve_in * (math.sqrt(rate_over_target) - 1.0) / g, 0.0)


def get_amount_out(
    amount_in: Amount, reserve_in: Amount, reserve_out: Amount, fee: float = 0.003
) -> Amount:
    """Output paid for exactly `amount_in`: UniswapV2Library.getAmountOut.

    out = g*a*R_out / (R_in + g*a) with g = 1 - fee: the fee is charged on the input and the
    remaining input must keep x*y constant (whitepaper section 3.2.1). Written as
    R_out * (g*a / (R_in + g*a)) so that, in floats too, the output never exceeds R_out.
    """
    amount_in = _amount("amount_in", amount_in)
    reserve_in = _reserve("reserve_in", reserve_in)
    reserve_out = _reserve("reserve_out", reserve_out)
    return _amount_out(amount_in, reserve_in, reserve_out, _gamma(fee))


def get_amount_in(
    amount_out: Amount, reserve_in: Amount, reserve_out: Amount, fee: float = 0.003
) -> Amount:
    """Input needed to receive exactly `amount_out`: UniswapV2Library.getAmountIn.

    in = R_in*out / ((R_out - out)*g), the inverse of `get_amount_out` (the contract adds 1 wei
    to round up; floats need not). No input can buy the whole reserve or more.
    """
    amount_out = _amount("amount_out", amount_out)
    reserve_in = _reserve("reserve_in", reserve_in)
    reserve_out = _reserve("reserve_out", reserve_out)
    g = _gamma(fee)
    if _any(amount_out >= reserve_out):
        raise InsufficientLiquidity(
            "amount_out: must be below reserve_out, a pool cannot pay out its whole reserve"
        )
    return _amount_in(amount_out, reserve_in, reserve_out, g)


def amount_in_to_target_price(
    reserve_in: Amount, reserve_out: Amount, target_price: Amount, fee: float = 0.003
) -> Amount:
    """Profit-maximising input for an arbitrageur who values token_in at `target_price`.

    `target_price` is token_out per token_in (compare with the pool's R_out/R_in). Profit
    get_amount_out(x) - target_price*x is concave; setting its derivative
    g*R_in*R_out / (R_in + g*x)^2 to target_price gives
        x* = (sqrt(g*R_in*R_out/target_price) - R_in)/g = R_in*(sqrt(g*R_out/(R_in*P)) - 1)/g,
    clipped at 0 when even the first unit is unprofitable (g*R_out/R_in <= P). Same as
    v2-periphery ExampleSwapToPrice.sol / UniswapV2LiquidityMathLibrary
    .computeProfitMaximizingTrade; Angeris et al. 2019, "An analysis of Uniswap markets"
    (arXiv:1911.03380), optimal arbitrage and no-arbitrage interval.

    What holds exactly at x*: g*R_out'/(R_in + g*x*) = P, R_out' being the reserve after
    the trade. The pool's post-trade fee-adjusted rate g*R_out'/R_in' is lower by the factor
    (R_in + g*x*)/(R_in + x*) (the fee stays in the pool), which leaves P inside the
    no-arbitrage band [g*R_out'/R_in', R_out'/(g*R_in')].
    """
    reserve_in = _reserve("reserve_in", reserve_in)
    reserve_out = _reserve("reserve_out", reserve_out)
    target_price = _amount("target_price", target_price, allow_zero=False)
    g = _gamma(fee)
    rate_over_target = g * reserve_out / (reserve_in * target_price)
    return np.maximum(reserve_in * (np.sqrt(rate_over_target) - 1.0) / g, 0.0)


def price_impact(
    amount_in: Amount, reserve_in: Amount, reserve_out: Amount, fee: float = 0.003
) -> Amount:
    """1 - execution price / spot price, fee INCLUDED (so a vanishing trade costs `fee`).

    Execution price = get_amount_out(a)/a, spot = R_out/R_in (whitepaper section 2.2);
    their ratio simplifies to g*R_in/(R_in + g*a), which is also defined at a = 0.
    """
    amount_in = _amount("amount_in", amount_in)
    reserve_in = _reserve("reserve_in", reserve_in)
    _reserve("reserve_out", reserve_out)
    g = _gamma(fee)
    return 1.0 - g * reserve_in / (reserve_in + g * amount_in)


def impermanent_loss(price_ratio: Amount) -> Amount:
    """Value of a fee-less constant-product LP position relative to holding, minus 1 (<= 0).

    `price_ratio` r = p/p0, the price of token0 in token1 now over at deposit. At price p the
    LP holds sqrt(k/p) token0 + sqrt(k*p) token1, worth 2*sqrt(k*p) token1; holding the
    deposit is worth sqrt(k/p0)*p + sqrt(k*p0); the ratio is 2*sqrt(r)/(1+r)
    (Uniswap docs "Understanding Returns"; Pintail 2019). Symmetric: IL(r) = IL(1/r).
    """
    price_ratio = _amount("price_ratio", price_ratio)
    return 2.0 * np.sqrt(price_ratio) / (1.0 + price_ratio) - 1.0


# -- ledger-backed pool ----------------------------------------------------------------------
class ConstantProductPool:
    """A Uniswap v2 pair whose reserves are its own ledger balances (the ledger is `sync`).

    Tokens sent to the pool's holder id directly (a donation, or an exploit draining it)
    simply change the reserves and so the price: that is a feature. LP token:
    f"{name}:LP"; `locked_liquidity` of it is held by f"{name}:locked", which never redeems
    it (Uniswap mints MINIMUM_LIQUIDITY to address(0)). The protocol fee switch (feeTo) is
    off, as on most v2 pairs, so the whole fee accrues to LPs.
    """

    def __init__(
        self, ledger: Ledger, name: str, token0: str, token1: str, fee: float = 0.003
    ) -> None:
        for token in (token0, token1):
            ledger.total_supply(token)  # UnknownToken if the ledger has never created it
        if token0 == token1:
            raise InvalidAmount(f"token1: must differ from token0, both are {token0!r}")
        self.fee = check_fraction("fee", fee, upper_open=True)
        self._gamma = 1.0 - self.fee
        self.ledger = ledger
        self.name = name
        self.tokens: tuple[str, str] = (token0, token1)
        self.lp_token = names.lp_token(name)
        self.locked_holder = names.sub_account(name, "locked")
        ledger.create_token(self.lp_token, issuer=name)

    # -- reads --------------------------------------------------------------------------
    def reserves(self) -> dict[str, float]:
        """The pool's ledger balances of its two tokens."""
        (token0, token1), balance = self.tokens, self.ledger.balance_of
        return {token0: balance(self.name, token0), token1: balance(self.name, token1)}

    @property
    def k(self) -> float:
        """The invariant x*y; swaps never decrease it beyond float rounding (fees stay in)."""
        reserve0, reserve1 = self.reserves().values()
        return reserve0 * reserve1

    def total_liquidity(self) -> float:
        """sqrt(x*y) = sqrt(k), the liquidity the LP supply is minted against (Uniswap v2
        whitepaper, Adams et al. 2020, section 3.4): a swap keeps k (fees raise it), a
        withdrawal of a share s scales it by 1 - s, draining a share d of one side by
        sqrt(1 - d)."""
        return math.sqrt(self.k)

    def spot_price(self, base: str, quote: str) -> float:
        """Marginal price of 1 `base` in `quote`, fee excluded: reserve_quote/reserve_base."""
        reserve_base, reserve_quote = self._trading_reserves(base, quote, ("base", "quote"))
        return reserve_quote / reserve_base

    def quote_exact_in(self, token_in: str, token_out: str, amount_in: float) -> float:
        """What `swap_exact_in` would pay out now; changes nothing."""
        amount_in = check_amount("amount_in", amount_in, allow_zero=False)
        reserve_in, reserve_out = self._trading_reserves(token_in, token_out)
        amount_out = _amount_out(amount_in, reserve_in, reserve_out, self._gamma)
        if amount_out >= reserve_out:  # only when amount_in dwarfs reserve_in by ~1e16
            raise InsufficientLiquidity(
                f"amount_in: {amount_in!r} {token_in} would drain all {reserve_out!r} "
                f"{token_out} of pool {self.name!r}"
            )
        return amount_out

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: float) -> float:
        """What `swap_exact_out` would take for `amount_out`, fee included; changes nothing."""
        amount_out = check_amount("amount_out", amount_out, allow_zero=False)
        reserve_in, reserve_out = self._trading_reserves(token_in, token_out)
        if amount_out >= reserve_out:
            raise InsufficientLiquidity(
                f"amount_out: {amount_out!r} {token_out} is not below the whole reserve "
                f"{reserve_out!r} of pool {self.name!r}"
            )
        return _amount_in(amount_out, reserve_in, reserve_out, self._gamma)

    def quote_to_price(self, token_in: str, token_out: str, price: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the marginal price of
        `token_in` in `token_out`, fee excluded, has fallen to `price`: `quote_to_rate` at
        (1 - fee) * price. (Unlike v3, v2 keeps the fee in the reserves, so the pool's own
        R_out/R_in ends a little below `price`.)"""
        price = check_amount("price", price, allow_zero=False)
        return self.quote_to_rate(token_in, token_out, price * self._gamma)

    def quote_to_rate(self, token_in: str, token_out: str, rate: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the next unit of
        `token_in` pays `rate` of `token_out`, fee included; (0, 0) when even the first unit
        pays no more. Selling to the external price ratio maximises an arbitrageur's profit:
        `amount_in_to_target_price` (ExampleSwapToPrice's closed form)."""
        rate = check_amount("rate", rate, allow_zero=False)
        reserve_in, reserve_out = self._trading_reserves(token_in, token_out)
        amount_in = _input_to_rate(reserve_in, reserve_out, rate, self._gamma)
        if amount_in == 0:
            return 0.0, 0.0
        return amount_in, float(_amount_out(amount_in, reserve_in, reserve_out, self._gamma))

    # -- swaps (UniswapV2Pair.swap via the Router) -------------------------------------
    def swap_exact_in(
        self,
        trader: str,
        token_in: str,
        token_out: str,
        amount_in: float,
        min_amount_out: float = 0.0,
    ) -> float:
        """Sell exactly `amount_in` of token_in; return the token_out received."""
        amount_out = self.quote_exact_in(token_in, token_out, amount_in)
        if amount_out < check_amount("min_amount_out", min_amount_out):
            raise SlippageExceeded(
                f"min_amount_out: swap would pay {amount_out!r} {token_out}, "
                f"below the limit {min_amount_out!r}"
            )
        self._settle(trader, token_in, float(amount_in), token_out, amount_out)
        return amount_out

    def swap_exact_out(
        self,
        trader: str,
        token_in: str,
        token_out: str,
        amount_out: float,
        max_amount_in: float = math.inf,
    ) -> float:
        """Buy exactly `amount_out` of token_out; return the token_in paid."""
        amount_out = check_amount("amount_out", amount_out, allow_zero=False)
        if max_amount_in != math.inf:
            check_amount("max_amount_in", max_amount_in)
        amount_in = self.quote_exact_out(token_in, token_out, amount_out)
        if amount_in > max_amount_in:
            raise SlippageExceeded(
                f"max_amount_in: swap would cost {amount_in!r} {token_in}, "
                f"above the limit {max_amount_in!r}"
            )
        self._settle(trader, token_in, amount_in, token_out, amount_out)
        return amount_in

    # -- liquidity ----------------------------------------------------------------------
    def add_liquidity(self, provider: str, amounts: Mapping[str, float]) -> float:
        """Deposit at most `amounts` (both tokens) and return the LP tokens minted.

        Router semantics (UniswapV2Router02._addLiquidity): into a live pool only the
        current-ratio part of `amounts` is taken, the rest stays with the provider. Minting
        follows UniswapV2Pair.mint: the first deposit mints sqrt(x*y) of which
        `locked_liquidity` is locked (x, y = whole balances, so tokens donated before the first
        mint go to the first LP, as in the pair); later ones min(dx*S/x, dy*S/y).
        """
        wanted = self._deposit_amounts(amounts)
        reserve0, reserve1 = self.reserves().values()
        supply = self.ledger.total_supply(self.lp_token)
        amount0, amount1 = self._optimal_deposit(wanted, reserve0, reserve1, supply)
        locked = 0.0
        if supply == 0:
            liquidity = math.sqrt((reserve0 + amount0) * (reserve1 + amount1))
            locked = locked_liquidity(liquidity)
            liquidity -= locked
        else:
            liquidity = min(amount0 * supply / reserve0, amount1 * supply / reserve1)
        if liquidity <= 0:
            raise InsufficientLiquidity(
                f"amounts: {amounts!r} would mint no LP tokens of pool {self.name!r}"
            )
        for token, amount in zip(self.tokens, (amount0, amount1), strict=True):
            held = self.ledger.balance_of(provider, token)
            if amount > held:
                raise InsufficientBalance(
                    f"add_liquidity: {provider!r} holds {held!r} {token}, needs {amount!r}"
                )
        for token, amount in zip(self.tokens, (amount0, amount1), strict=True):
            self.ledger.transfer(token, provider, self.name, amount)
        if locked:
            self.ledger.mint(self.lp_token, self.locked_holder, locked, by=self.name)
        self.ledger.mint(self.lp_token, provider, liquidity, by=self.name)
        return liquidity

    def remove_liquidity(self, provider: str, lp_amount: float) -> dict[str, float]:
        """Burn `lp_amount` LP tokens for the pro-rata share of both reserves.

        UniswapV2Pair.burn: amount_i = lp * reserve_i / supply, both must be > 0 (so a pool
        drained of one token cannot be exited, as on chain). Never a whole reserve: the locked
        liquidity keeps the supply above any holder's balance. Where deposits since the first
        mint have grown the float supply past holding the lock, the reserve's last ulp stays.
        """
        lp_amount = check_amount("lp_amount", lp_amount, allow_zero=False)
        held = self.ledger.balance_of(provider, self.lp_token)
        if lp_amount > held:
            raise InsufficientBalance(
                f"lp_amount: {provider!r} holds {held!r} {self.lp_token}, cannot burn {lp_amount!r}"
            )
        # share <= 1 makes every payout <= its reserve in floats too (the max() absorbs the
        # ledger's running supply drifting an ulp below a balance); min() keeps the last ulp.
        share = lp_amount / max(self.ledger.total_supply(self.lp_token), lp_amount)
        payout = {
            token: min(share * reserve, math.nextafter(reserve, 0.0))
            for token, reserve in self.reserves().items()
        }
        if not all(payout.values()):
            raise InsufficientLiquidity(
                f"lp_amount: burning {lp_amount!r} {self.lp_token} would pay out nothing of "
                f"some token (payout {payout!r})"
            )
        self.ledger.burn(self.lp_token, provider, lp_amount, by=self.name)
        for token, amount in payout.items():
            self.ledger.transfer(token, self.name, provider, amount)
        return payout

    # -- internals ----------------------------------------------------------------------
    def _trading_reserves(
        self, token_in: str, token_out: str, args: tuple[str, str] = ("token_in", "token_out")
    ) -> tuple[float, float]:
        """Validate a (token_in, token_out) pair and return its reserves, both > 0."""
        token0, token1 = self.tokens
        if (token_in == token0 and token_out == token1) or (
                token_in == token1 and token_out == token0):  # a valid pair: no search
            book = self.ledger.balance_of
            reserve_in, reserve_out = book(self.name, token_in), book(self.name, token_out)
            if reserve_in != 0 and reserve_out != 0:
                return reserve_in, reserve_out
        for name, token in zip(args, (token_in, token_out), strict=True):
            if token not in self.tokens:
                raise UnknownToken(
                    f"{name}: {token!r} is not a token of pool {self.name!r} {self.tokens}"
                )
        if token_in == token_out:
            raise InvalidAmount(f"{args[1]}: must differ from {args[0]}, both are {token_in!r}")
        reserve_in = self.ledger.balance_of(self.name, token_in)
        reserve_out = self.ledger.balance_of(self.name, token_out)
        if reserve_in == 0 or reserve_out == 0:
            raise InsufficientLiquidity(
                f"pool {self.name!r} has no liquidity "
                f"({token_in}: {reserve_in!r}, {token_out}: {reserve_out!r})"
            )
        return reserve_in, reserve_out

    def _settle(
        self, trader: str, token_in: str, amount_in: float, token_out: str, amount_out: float
    ) -> None:
        # The input moves first: if the trader lacks it, nothing has changed yet; the output
        # (< reserve) then cannot fail.
        self.ledger.transfer(token_in, trader, self.name, amount_in)
        self.ledger.transfer(token_out, self.name, trader, amount_out)

    def _deposit_amounts(self, amounts: Mapping[str, float]) -> tuple[float, float]:
        if not isinstance(amounts, Mapping) or set(amounts) != set(self.tokens):
            raise InvalidAmount(
                f"amounts: must map exactly the pool's tokens {self.tokens}, got {amounts!r}"
            )
        amount0, amount1 = (check_amount(f"amounts[{t!r}]", amounts[t]) for t in self.tokens)
        return amount0, amount1

    def _optimal_deposit(
        self, wanted: tuple[float, float], reserve0: float, reserve1: float, supply: float
    ) -> tuple[float, float]:
        """UniswapV2Router02._addLiquidity with UniswapV2Library.quote (a*R_b/R_a)."""
        wanted0, wanted1 = wanted
        if supply == 0:
            return wanted0, wanted1
        if reserve0 == 0 or reserve1 == 0:
            raise InsufficientLiquidity(
                f"pool {self.name!r} holds no {self.tokens[reserve0 != 0]}: no ratio to deposit at"
            )
        optimal1 = wanted0 * reserve1 / reserve0
        if optimal1 <= wanted1:
            return wanted0, optimal1
        return min(wanted1 * reserve0 / reserve1, wanted0), wanted1
