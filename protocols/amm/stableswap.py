"""Curve StableSwap: the invariant's math and a ledger-backed n-coin pool.

Sources: the StableSwap whitepaper (Egorov 2019, "StableSwap - efficient mechanism for
Stablecoin liquidity") and curvefi/curve-contract `contracts/pools/3pool/StableSwap3Pool.vy`
(cited below as "3pool"); quantities absent from 3pool (marginal price, exact-output input)
follow curvefi/stableswap-ng `contracts/main/CurveStableSwapNG.vy` / `CurveStableSwapNGViews.vy`.

Conventions a caller must know:
- `amp` is the A that Curve's contracts and UI show (3pool: 2000), i.e. the whitepaper's
  A times n^(n-1); as in the contracts `Ann = amp * n` = A_whitepaper * n^n. The invariant
  is  Ann * S + D = Ann * D + D^(n+1) / (n^n * prod(x))  (whitepaper; 3pool `get_D`).
- Balances are floats in whole-token units, all coins in the same units: we do not model
  rates or precision multipliers (3pool's RATES / PRECISION_MUL) - every coin is already an
  "18-decimal" float. Floats replace the contracts' integers; the contracts' defensive
  "- 1 wei" roundings are therefore dropped.
- Fees are fractions (3pool `fee / 1e10`): `fee` is charged on every swap output, and
  `fee * n / (4 * (n - 1))` on the imbalance of deposits and one-coin withdrawals.
- Admin fees leave the pool at once: the admin share of each fee is transferred to the
  ledger holder f"{name}:admin". The contract instead keeps them in its token balance but
  out of `self.balances`; moving them out makes "pool ledger balance == self.balances" hold
  exactly, so reserves are simply read from the ledger and conservation is automatic.
- LP token f"{name}:LP"; the first deposit mints D LP tokens, so virtual price starts at 1
  (coins left in a pool whose LP supply fell to zero go to that next first depositor).
- Accuracy: Newton stops at a relative step of 1e-15 (the contracts: 1 wei), so balances and
  outputs are resolved to ~1e-15 of the largest balance; a trade far below that scale gets
  rounding noise of that absolute size (which may favour the trader by those ulps).

The pure functions use plain Python floats: n is 2..8, where numpy's per-call overhead
would cost more than the arithmetic.
"""

import functools
import math
from collections.abc import Mapping, Sequence
from numbers import Integral

from protocols import names
from protocols.amm.solve import root_from_below
from protocols.errors import (
    DaosimError,
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    SlippageExceeded,
    UnknownToken,
)
from protocols.ledger import Ledger
from protocols.validation import check_amount, check_fraction

#: 3pool MAX_A (10**6); A >= 1 because the contracts store A as a positive integer.
MAX_A = 1e6
#: 3pool MAX_FEE = 5 * 10**9 / FEE_DENOMINATOR.
MAX_FEE = 0.5
#: Relative stopping tolerance of the Newton iterations (the contracts stop at 1 wei).
RTOL = 1e-15
#: The contracts' iteration cap.
MAX_ITERATIONS = 255


# -- the invariant -------------------------------------------------------------------------
def get_D(balances: Sequence[float], amp: float) -> float:
    """Invariant D of `balances` by Newton's method (3pool `get_D`).

    The step is Newton's on a convex increasing function of D started at S >= D (AM-GM),
    so it descends monotonically onto the root.
    """
    xp = _check_balances("balances", balances)
    return _get_D(xp, _check_amp(amp))


def get_y(i: int, j: int, x: float, balances: Sequence[float], amp: float) -> float:
    """New balance of coin j that keeps D when coin i's balance becomes `x` (3pool `get_y`)."""
    xp = _check_balances("balances", balances)
    _check_pair(i, j, len(xp))
    x = check_amount("x", x, allow_zero=False)
    amp = _check_amp(amp)
    D = _get_D(xp, amp)
    xp[i] = x
    return _solve_y(j, xp, amp, D)


def get_y_D(i: int, D: float, balances: Sequence[float], amp: float) -> float:
    """Balance of coin i that makes the invariant equal `D`, others fixed (3pool `get_y_D`)."""
    xp = _check_balances("balances", balances)
    _check_index("i", i, len(xp))
    return _solve_y(i, xp, _check_amp(amp), check_amount("D", D))


def get_dy(i: int, j: int, dx: float, balances: Sequence[float], amp: float, fee: float) -> float:
    """Coin j paid out for `dx` of coin i, after the swap fee (3pool `get_dy` / `exchange`)."""
    xp = _check_balances("balances", balances)
    _check_pair(i, j, len(xp))
    dx = check_amount("dx", dx)
    return _exchange_in(i, j, dx, xp, _check_amp(amp), _check_fee(fee))[0]


def get_dx(i: int, j: int, dy: float, balances: Sequence[float], amp: float, fee: float) -> float:
    """Coin i needed to receive `dy` of coin j after the fee (stableswap-ng Views `get_dx`)."""
    xp = _check_balances("balances", balances)
    _check_pair(i, j, len(xp))
    dy = check_amount("dy", dy, allow_zero=False)
    return _exchange_out(i, j, dy, xp, _check_amp(amp), _check_fee(fee))[0]


def marginal_price(i: int, j: int, balances: Sequence[float], amp: float) -> float:
    """Price of coin i in coin j at the margin, fee excluded: -dx_j/dx_i at constant D.

    Implicit differentiation of F = Ann*S + D - Ann*D - D_P with D_P = D^(n+1) / (n^n prod x)
    gives dF/dx_k = Ann + D_P/x_k, so the price is (Ann + D_P/x_i) / (Ann + D_P/x_j)
    (stableswap-ng `_get_p`, which quotes every coin against coin 0).
    """
    xp = _check_balances("balances", balances)
    _check_pair(i, j, len(xp))
    amp = _check_amp(amp)
    return _marginal_price(i, j, xp, amp, _get_D(xp, amp))


# -- unchecked kernels (callers validated) -------------------------------------------------
def _get_D(xp: list[float], amp: float) -> float:
    """The invariant D of balances `xp` (3pool `get_D`), remembered for the last few
    balance vectors: a pool is quoted, priced and swapped many times between two changes of
    its balances, and D is a function of them and A alone."""
    return _remembered_D(tuple(xp), amp)


@functools.lru_cache(maxsize=64)
def _remembered_D(xp: tuple[float, ...], amp: float) -> float:
    n = len(xp)
    S = math.fsum(xp)
    if S == 0:
        return 0.0
    if min(xp) == 0:
        raise InsufficientLiquidity(
            "balances: a coin balance is zero while others are not; the StableSwap invariant "
            "is undefined there (the contract's get_D divides by zero)"
        )
    Ann = amp * n
    D = S
    for _ in range(MAX_ITERATIONS):
        D_P = D
        for x in xp:
            D_P = D_P * D / (x * n)
        D_prev = D
        D = (Ann * S + D_P * n) * D / ((Ann - 1) * D + (n + 1) * D_P)
        if abs(D - D_prev) <= RTOL * D:
            return D
    raise DaosimError(f"get_D: no convergence after {MAX_ITERATIONS} steps for {xp} amp={amp}")


def _solve_y(j: int, xp: list[float], amp: float, D: float) -> float:
    """Balance of coin j solving the invariant for `D`, every other xp[k] fixed.

    3pool `get_y`/`get_y_D`: y^2 + (b - D) y = c with b = S' + D/Ann and
    c = D^(n+1) / (n^n prod' Ann n), solved by Newton y <- (y^2 + c) / (2y + b - D).
    """
    n = len(xp)
    Ann = amp * n
    c = D
    S_ = 0.0
    for k, x in enumerate(xp):
        if k != j:
            S_ += x
            c = c * D / (x * n)
    c = c * D / (Ann * n)
    b = S_ + D / Ann
    y = D
    rtol = RTOL
    for _ in range(MAX_ITERATIONS):
        y_prev = y
        y = (y * y + c) / (2 * y + b - D)
        # y is only as precise as D (b - D cancels): tolerance relative to max(y, D)
        if abs(y - y_prev) <= rtol * (D if y < D else y):
            return y
    raise DaosimError(f"get_y: no convergence after {MAX_ITERATIONS} steps for {xp} amp={amp}")


def _exchange_in(
    i: int, j: int, dx: float, xp: list[float], amp: float, fee: float
) -> tuple[float, float]:
    """(dy after fee, fee in coin j) for selling dx of coin i (3pool `exchange`)."""
    D = _require_liquidity(xp, amp)
    new = list(xp)
    new[i] = xp[i] + dx
    y = _solve_y(j, new, amp, D)
    dy = max(xp[j] - y, 0.0)  # a float-rounding y above xp[j] must not charge the trader
    dy_fee = dy * fee
    return dy - dy_fee, dy_fee


def _exchange_out(
    i: int, j: int, dy: float, xp: list[float], amp: float, fee: float
) -> tuple[float, float]:
    """(dx, fee in coin j) to receive dy of coin j after the fee (stableswap-ng `get_dx`).

    Exact inversion, no search: the fee is on the gross output, so the pool must release
    dy / (1 - fee); get_y solved for coin i at that new balance of coin j gives dx.
    """
    D = _require_liquidity(xp, amp)
    gross = dy / (1 - fee)
    y = xp[j] - gross
    if y <= 0:
        raise InsufficientLiquidity(
            f"amount_out (dy): {dy} of coin {j} plus its fee exceeds the pool's balance {xp[j]}"
        )
    new = list(xp)
    new[j] = y
    x = _solve_y(i, new, amp, D)
    return max(x - xp[i], 0.0), gross - dy


def _marginal_price(i: int, j: int, xp: list[float], amp: float, D: float) -> float:
    n = len(xp)
    D_P = D
    for x in xp:
        D_P = D_P * D / (x * n)
    Ann = amp * n
    return (Ann + D_P / xp[i]) / (Ann + D_P / xp[j])


def _withdraw_one_coin(
    lp_amount: float, i: int, xp: list[float], supply: float, amp: float, fee: float
) -> tuple[float, float]:
    """(dy, fee) for burning `lp_amount` LP into coin i (3pool `_calc_withdraw_one_coin`).

    Every coin's deviation from a proportional withdrawal pays the imbalance fee; the
    output is the drop of coin i's balance on the fee-reduced balances.
    """
    D0 = _require_liquidity(xp, amp)
    D1 = D0 - lp_amount * D0 / supply
    new_y = _solve_y(i, xp, amp, D1)
    imbalance_fee = _imbalance_fee(fee, len(xp))
    reduced = list(xp)
    for k, x in enumerate(xp):
        expected = x * D1 / D0 - new_y if k == i else x - x * D1 / D0
        reduced[k] = x - imbalance_fee * expected
    dy = max(reduced[i] - _solve_y(i, reduced, amp, D1), 0.0)
    return dy, max(xp[i] - new_y - dy, 0.0)


def _deposit(
    old: list[float], new: list[float], supply: float, amp: float, fee: float
) -> tuple[float, list[float]]:
    """(LP to mint, fee per coin) for moving balances old -> new (3pool `add_liquidity`).

    The first deposit mints D; later ones pay the imbalance fee on each coin's distance
    from the balance a proportional deposit would have reached, and mint supply*(D2-D0)/D0.
    """
    D1 = _get_D(new, amp)
    if supply == 0:
        return D1, [0.0] * len(new)
    D0 = _get_D(old, amp)
    if D0 == 0:
        raise InsufficientLiquidity("add_liquidity: pool has LP supply but no balances")
    if D1 <= D0:
        raise InvalidAmount("amounts: the deposit does not increase the invariant")
    imbalance_fee = _imbalance_fee(fee, len(new))
    fees = [imbalance_fee * abs(D1 * o / D0 - b) for o, b in zip(old, new, strict=True)]
    after_fees = [b - f for b, f in zip(new, fees, strict=True)]
    if min(after_fees) <= 0:
        raise InsufficientLiquidity("amounts: deposit so imbalanced its fee exceeds a balance")
    D2 = _get_D(after_fees, amp)
    return supply * (D2 - D0) / D0, fees


def _imbalance_fee(fee: float, n: int) -> float:
    """3pool: `_fee = self.fee * N_COINS / (4 * (N_COINS - 1))`."""
    return fee * n / (4 * (n - 1))


def _require_liquidity(xp: list[float], amp: float) -> float:
    D = _get_D(xp, amp)
    if D == 0:
        raise InsufficientLiquidity("pool has no liquidity (all balances are zero)")
    return D


# -- argument checks -----------------------------------------------------------------------
def _check_balances(name: str, balances: Sequence[float]) -> list[float]:
    xp = [check_amount(f"{name}[{k}]", b) for k, b in enumerate(balances)]
    if len(xp) < 2:
        raise InvalidAmount(f"{name}: a StableSwap pool needs at least 2 coins, got {len(xp)}")
    return xp


def _check_amp(amp: float) -> float:
    amp = check_amount("amp", amp)
    if not 1 <= amp <= MAX_A:
        raise InvalidAmount(f"amp: must lie in [1, {MAX_A:g}] (3pool MAX_A), got {amp}")
    return amp


def _check_fee(fee: float) -> float:
    fee = check_fraction("fee", fee)
    if fee > MAX_FEE:
        raise InvalidAmount(f"fee: must be <= {MAX_FEE} (3pool MAX_FEE), got {fee}")
    return fee


def _check_index(name: str, k: int, n: int) -> None:
    if isinstance(k, bool) or not isinstance(k, Integral) or not 0 <= k < n:
        raise InvalidAmount(f"{name}: must be a coin index in [0, {n}), got {k!r}")


def _check_pair(i: int, j: int, n: int) -> None:
    _check_index("i", i, n)
    _check_index("j", j, n)
    if i == j:
        raise InvalidAmount(f"j: must differ from i, both are {i}")


# -- the pool ------------------------------------------------------------------------------
class StableSwapPool:
    """An n-coin Curve pool whose balances live in the ledger under holder `name`.

    Defaults fee=0.0004, admin_fee=0.5 are the 3pool-era deployment values (curve-contract
    contracts/pools/{aave,seth,link,...}/pooldata.json: fee 4000000 and admin_fee 5000000000
    over 1e10; see curve_stableswap_pool_params.csv in the data folder). 3pool itself now runs
    fee=0.0001, amp=2000.
    """

    def __init__(
        self,
        ledger: Ledger,
        name: str,
        tokens: Sequence[str],
        amp: float,
        fee: float = 0.0004,
        admin_fee: float = 0.5,
    ) -> None:
        tokens = tuple(tokens)
        if len(tokens) < 2 or len(set(tokens)) != len(tokens):
            raise InvalidAmount(f"tokens: need at least 2 distinct tokens, got {tokens!r}")
        for token in tokens:
            ledger.total_supply(token)  # raises UnknownToken
        self.amp = amp
        self.fee = _check_fee(fee)
        self.admin_fee = check_fraction("admin_fee", admin_fee)
        self.ledger = ledger
        self.name = name
        self.tokens = tokens
        self.lp_token = names.lp_token(name)
        self.admin_holder = f"{name}:admin"
        ledger.create_token(self.lp_token, issuer=name)
        self._index = {t: k for k, t in enumerate(tokens)}

    @property
    def amp(self) -> float:
        """Amplification A (Curve convention); settable, e.g. by a governance scenario."""
        return self._amp

    @amp.setter
    def amp(self, value: float) -> None:
        self._amp = _check_amp(value)

    # -- reads -----------------------------------------------------------------------------
    def reserves(self) -> dict[str, float]:
        return dict(zip(self.tokens, self._balances(), strict=True))

    def lp_supply(self) -> float:
        return self.ledger.total_supply(self.lp_token)

    def invariant(self) -> float:
        """Current D."""
        return _get_D(self._balances(), self._amp)

    def total_liquidity(self) -> float:
        """The invariant D (StableSwap whitepaper, Egorov 2019: the total of coins when they
        trade at par): swaps keep it (fees raise it), withdrawals scale it down; 0 once empty.
        A drain that leaves a coin at 0 also leaves D undefined (InsufficientLiquidity)."""
        return self.invariant()

    def virtual_price(self) -> float:
        """D / LP supply (3pool `get_virtual_price`): LP value in balanced-coin units."""
        supply = self.lp_supply()
        if supply == 0:
            raise InsufficientLiquidity(f"{self.name}: no LP tokens, virtual price undefined")
        return self.invariant() / supply

    def spot_price(self, base: str, quote: str) -> float:
        """Marginal price of 1 `base` in `quote` units, fee excluded (see marginal_price)."""
        i, j = self._pair(base, quote, "base", "quote")
        xp = self._balances()
        return _marginal_price(i, j, xp, self._amp, _require_liquidity(xp, self._amp))

    def quote_exact_in(self, token_in: str, token_out: str, amount_in: float) -> float:
        i, j = self._pair(token_in, token_out)
        amount_in = check_amount("amount_in", amount_in, allow_zero=False)
        return _exchange_in(i, j, amount_in, self._balances(), self._amp, self.fee)[0]

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: float) -> float:
        i, j = self._pair(token_in, token_out)
        amount_out = check_amount("amount_out", amount_out, allow_zero=False)
        return _exchange_out(i, j, amount_out, self._balances(), self._amp, self.fee)[0]

    def quote_to_price(self, token_in: str, token_out: str, price: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the marginal price of
        `token_in` in `token_out` (fee excluded, `marginal_price` at the post-trade balances)
        has fallen to `price`: `quote_to_rate` at (1 - fee) * price, the fee being a fixed
        share of the output (3pool `exchange`)."""
        price = check_amount("price", price, allow_zero=False)
        return self.quote_to_rate(token_in, token_out, price * (1.0 - self.fee))

    def quote_to_rate(self, token_in: str, token_out: str, rate: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the next unit of
        `token_in` pays `rate` of `token_out`, fee included; (0, 0) when even the first unit
        pays no more. Brent's method on that exact rate - (1 - fee) x the marginal price at
        the post-trade balances, the derivative of 3pool `get_dy` - to a relative 1e-7 in
        the amount, never past the paying side."""
        i, j = self._pair(token_in, token_out)
        target = check_amount("rate", rate, allow_zero=False)
        balances, amp, keep = self._balances(), self._amp, 1.0 - self.fee
        invariant = _get_D(balances, amp)  # InsufficientLiquidity if one coin ran out
        if invariant == 0:  # no deposits yet
            return 0.0, 0.0
        first_rate = keep * _marginal_price(i, j, balances, amp, invariant)
        if first_rate <= target:
            return 0.0, 0.0

        def excess(x: float) -> float:
            if x == 0:
                return first_rate - target
            after = list(balances)
            after[i] += x
            after[j] = _solve_y(j, after, amp, invariant)
            return keep * _marginal_price(i, j, after, amp, invariant) - target

        # Beyond this the marginal rate is below target even on average: out < balance_out,
        # so out * p_out < x * p_in.
        amount_in = root_from_below(excess, balances[j] / target)
        if amount_in == 0:
            return 0.0, 0.0
        return amount_in, _exchange_in(i, j, amount_in, balances, amp, self.fee)[0]

    def calc_withdraw_one_coin(self, lp_amount: float, coin: str) -> float:
        """Coin paid for burning `lp_amount` LP into `coin` alone (3pool view of that name)."""
        return self._withdraw_one_coin(lp_amount, coin)[0]

    # -- swaps -----------------------------------------------------------------------------
    def swap_exact_in(
        self,
        trader: str,
        token_in: str,
        token_out: str,
        amount_in: float,
        min_amount_out: float = 0.0,
    ) -> float:
        """Sell `amount_in` of `token_in` for `token_out` (3pool `exchange`); returns output."""
        i, j = self._pair(token_in, token_out)
        amount_in = check_amount("amount_in", amount_in, allow_zero=False)
        min_amount_out = check_amount("min_amount_out", min_amount_out)
        dy, dy_fee = _exchange_in(i, j, amount_in, self._balances(), self._amp, self.fee)
        if dy < min_amount_out:
            raise SlippageExceeded(
                f"min_amount_out: swap pays {dy} {token_out}, below the limit {min_amount_out}"
            )
        self._settle(trader, i, j, amount_in, dy, dy_fee)
        return dy

    def swap_exact_out(
        self,
        trader: str,
        token_in: str,
        token_out: str,
        amount_out: float,
        max_amount_in: float = math.inf,
    ) -> float:
        """Buy exactly `amount_out` of `token_out`; returns the `token_in` paid."""
        i, j = self._pair(token_in, token_out)
        amount_out = check_amount("amount_out", amount_out, allow_zero=False)
        if max_amount_in != math.inf:
            max_amount_in = check_amount("max_amount_in", max_amount_in)
        dx, dy_fee = _exchange_out(i, j, amount_out, self._balances(), self._amp, self.fee)
        if dx > max_amount_in:
            raise SlippageExceeded(
                f"max_amount_in: swap costs {dx} {token_in}, above the limit {max_amount_in}"
            )
        self._settle(trader, i, j, dx, amount_out, dy_fee)
        return dx

    # -- liquidity -------------------------------------------------------------------------
    def add_liquidity(self, provider: str, amounts: Mapping[str, float]) -> float:
        """Deposit any mix of coins; returns LP minted (3pool `add_liquidity`).

        Missing tokens count as 0. The admin share of the imbalance fee goes to the admin
        holder, the rest stays with the LPs.
        """
        deposit = self._amount_vector(amounts)
        for token, amount in zip(self.tokens, deposit, strict=True):
            held = self.ledger.balance_of(provider, token)
            if amount > held:
                raise InsufficientBalance(
                    f"amounts: {provider!r} holds {held} {token}, cannot deposit {amount}"
                )
        supply = self.lp_supply()
        if supply == 0 and min(deposit) == 0:
            raise InvalidAmount("amounts: the first deposit must include every coin")
        old = self._balances()
        new = [o + a for o, a in zip(old, deposit, strict=True)]
        minted, fees = _deposit(old, new, supply, self._amp, self.fee)
        for token, amount, fee in zip(self.tokens, deposit, fees, strict=True):
            if amount:
                self.ledger.transfer(token, provider, self.name, amount)
            if fee:
                self.ledger.transfer(token, self.name, self.admin_holder, fee * self.admin_fee)
        self.ledger.mint(self.lp_token, provider, minted, by=self.name)
        return minted

    def remove_liquidity(self, provider: str, lp_amount: float) -> dict[str, float]:
        """Burn LP for a pro-rata share of every coin, no fee (3pool `remove_liquidity`)."""
        lp_amount = check_amount("lp_amount", lp_amount, allow_zero=False)
        supply = self.lp_supply()
        self.ledger.burn(self.lp_token, provider, lp_amount, by=self.name)  # checks holding
        share = lp_amount / supply  # <= 1, so no payout exceeds a balance
        amounts = {t: b * share for t, b in zip(self.tokens, self._balances(), strict=True)}
        for token, amount in amounts.items():
            self.ledger.transfer(token, self.name, provider, amount)
        return amounts

    def remove_liquidity_one_coin(self, provider: str, lp_amount: float, coin: str) -> float:
        """Burn LP for `coin` alone, paying the imbalance fee (3pool function of that name)."""
        dy, dy_fee = self._withdraw_one_coin(lp_amount, coin, provider)
        self.ledger.burn(self.lp_token, provider, lp_amount, by=self.name)
        self.ledger.transfer(coin, self.name, provider, dy)
        self.ledger.transfer(coin, self.name, self.admin_holder, dy_fee * self.admin_fee)
        return dy

    # -- internals -------------------------------------------------------------------------
    def _balances(self) -> list[float]:
        return [self.ledger.balance_of(self.name, t) for t in self.tokens]

    def _pair(
        self, token_in: str, token_out: str, name_in: str = "token_in", name_out: str = "token_out"
    ) -> tuple[int, int]:
        i = self._coin_index(name_in, token_in)
        j = self._coin_index(name_out, token_out)
        if i == j:
            raise InvalidAmount(f"{name_out}: must differ from {name_in}, both are {token_in!r}")
        return i, j

    def _coin_index(self, name: str, token: str) -> int:
        try:
            return self._index[token]
        except (KeyError, TypeError):
            raise UnknownToken(
                f"{name}: {token!r} is not a coin of pool {self.name!r} {self.tokens}"
            ) from None

    def _amount_vector(self, amounts: Mapping[str, float]) -> list[float]:
        for token in amounts:
            self._coin_index("amounts", token)
        return [check_amount(f"amounts[{t!r}]", amounts.get(t, 0.0)) for t in self.tokens]

    def _withdraw_one_coin(
        self, lp_amount: float, coin: str, provider: str | None = None
    ) -> tuple[float, float]:
        """(dy, fee); checks `lp_amount` against the supply, or the provider's LP if given."""
        i = self._coin_index("coin", coin)
        lp_amount = check_amount("lp_amount", lp_amount, allow_zero=False)
        supply = self.lp_supply()
        limit = supply if provider is None else self.ledger.balance_of(provider, self.lp_token)
        if lp_amount > limit:
            who = "the LP supply" if provider is None else f"{provider!r}'s LP balance"
            raise InsufficientBalance(f"lp_amount: {lp_amount} exceeds {who} {limit}")
        return _withdraw_one_coin(lp_amount, i, self._balances(), supply, self._amp, self.fee)

    def _settle(self, trader: str, i: int, j: int, dx: float, dy: float, dy_fee: float) -> None:
        """Move dx in, dy out and the admin share of the fee out (3pool `exchange` tail)."""
        self.ledger.transfer(self.tokens[i], trader, self.name, dx)  # raises before any change
        self.ledger.transfer(self.tokens[j], self.name, trader, dy)
        self.ledger.transfer(self.tokens[j], self.name, self.admin_holder, dy_fee * self.admin_fee)
