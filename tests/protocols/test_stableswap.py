"""StableSwap: invariant math against hand computations and an integer port of 3pool,
the pool's ledger effects, and the properties Curve's design promises."""

import copy
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocols.amm.stableswap import (
    StableSwapPool,
    get_D,
    get_dx,
    get_dy,
    get_y,
    get_y_D,
    marginal_price,
)
from protocols.errors import (
    DaosimError,
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    LedgerError,
    SlippageExceeded,
    UnknownToken,
)
from protocols.ledger import Ledger

COINS = ("DAI", "USDC", "USDT")
# Real 3pool state (curve_stableswap_pool_params.csv, 2023-10-01): A=2000, fee=1e6/1e10;
# balances scaled to 18 decimals as 3pool's PRECISION_MUL does.
THREEPOOL_XP = [71776928030379693245469454, 74015455475721 * 10**12, 70021009789023 * 10**12]
THREEPOOL_A = 2000
THREEPOOL_FEE = 1_000_000  # over FEE_DENOMINATOR = 1e10 -> 0.0001
FEE_DENOMINATOR = 10**10
E18 = 10**18


# -- an integer port of curvefi/curve-contract contracts/pools/3pool/StableSwap3Pool.vy ----
def vy_get_D(xp: list[int], amp: int) -> int:
    n = len(xp)
    S = sum(xp)
    if S == 0:
        return 0
    D, Ann = S, amp * n
    for _ in range(255):
        D_P = D
        for x in xp:
            D_P = D_P * D // (x * n)
        D_prev = D
        D = (Ann * S + D_P * n) * D // ((Ann - 1) * D + (n + 1) * D_P)
        if abs(D - D_prev) <= 1:
            break
    return D


def vy_get_y_D(amp: int, i: int, xp: list[int], D: int) -> int:
    n = len(xp)
    c, S_, Ann = D, 0, amp * n
    for k in range(n):
        if k != i:
            S_ += xp[k]
            c = c * D // (xp[k] * n)
    c = c * D // (Ann * n)
    b = S_ + D // Ann
    y = D
    for _ in range(255):
        y_prev = y
        y = (y * y + c) // (2 * y + b - D)
        if abs(y - y_prev) <= 1:
            break
    return y


def vy_get_y(i: int, j: int, x: int, xp: list[int], amp: int) -> int:
    n = len(xp)
    D = vy_get_D(xp, amp)
    c, S_, Ann = D, 0, amp * n
    for k in range(n):
        if k == i:
            _x = x
        elif k != j:
            _x = xp[k]
        else:
            continue
        S_ += _x
        c = c * D // (_x * n)
    c = c * D // (Ann * n)
    b = S_ + D // Ann
    y = D
    for _ in range(255):
        y_prev = y
        y = (y * y + c) // (2 * y + b - D)
        if abs(y - y_prev) <= 1:
            break
    return y


def vy_get_dy(i: int, j: int, dx: int, xp: list[int], amp: int, fee: int) -> int:
    y = vy_get_y(i, j, xp[i] + dx, xp, amp)
    dy = xp[j] - y - 1
    return dy - fee * dy // FEE_DENOMINATOR


def vy_calc_withdraw_one_coin(
    token_amount: int, i: int, xp: list[int], supply: int, amp: int, fee: int
) -> int:
    n = len(xp)
    _fee = fee * n // (4 * (n - 1))
    D0 = vy_get_D(xp, amp)
    D1 = D0 - token_amount * D0 // supply
    new_y = vy_get_y_D(amp, i, xp, D1)
    reduced = list(xp)
    for k in range(n):
        expected = xp[k] * D1 // D0 - new_y if k == i else xp[k] - xp[k] * D1 // D0
        reduced[k] -= _fee * expected // FEE_DENOMINATOR
    return reduced[i] - vy_get_y_D(amp, i, reduced, D1) - 1


def vy_add_liquidity(
    amounts: list[int], old: list[int], supply: int, amp: int, fee: int, admin_fee: int
) -> tuple[int, list[int]]:
    """(mint_amount, admin fees taken out of self.balances)."""
    n = len(old)
    _fee = fee * n // (4 * (n - 1))
    D0 = vy_get_D(old, amp)
    new = [o + a for o, a in zip(old, amounts, strict=True)]
    D1 = vy_get_D(new, amp)
    admin = []
    for k in range(n):
        ideal = D1 * old[k] // D0
        f = _fee * abs(ideal - new[k]) // FEE_DENOMINATOR
        admin.append(f * admin_fee // FEE_DENOMINATOR)
        new[k] -= f
    D2 = vy_get_D(new, amp)
    return supply * (D2 - D0) // D0, admin


def to_float(values: list[int]) -> list[float]:
    return [v / E18 for v in values]


# -- fixtures & helpers --------------------------------------------------------------------
def snapshot(ledger: Ledger) -> dict:
    return copy.deepcopy({t: (ledger.holders(t), ledger.total_supply(t)) for t in ledger.tokens()})


def make_ledger(holdings: float = 1e9) -> Ledger:
    ledger = Ledger()
    for coin in COINS:
        ledger.create_token(coin, issuer="mint")
        for holder in ("lp", "trader"):
            ledger.mint(coin, holder, holdings, by="mint")
    return ledger


def make_pool(
    balances=(1e6, 1e6, 1e6), amp=2000.0, fee=0.0001, admin_fee=0.5, ledger=None
) -> StableSwapPool:
    ledger = ledger or make_ledger()
    pool = StableSwapPool(ledger, "curve3", COINS, amp, fee=fee, admin_fee=admin_fee)
    pool.add_liquidity("lp", dict(zip(COINS, balances, strict=True)))
    return pool


@pytest.fixture
def pool() -> StableSwapPool:
    return make_pool()


# -- the invariant: hand computations ------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 4, 8])
@pytest.mark.parametrize("amp", [1, 100, 2000, 1e6])
def test_balanced_pool_D_is_the_sum_exactly(n, amp):
    # With x_k = x: D_P = D^(n+1) / (n^n x^n) = D at D = n x, so Newton's first step returns S.
    assert get_D([250_000.0] * n, amp) == 250_000.0 * n


def test_two_coin_hand_example_amp_1():
    # amp=1, n=2 -> Ann = 2. Take x = 3 + sqrt7, y = 3 - sqrt7: S = 6, P = x*y = 2.
    # Invariant Ann*S + D = Ann*D + D^3/(4P): D = 4 gives 12 + 4 = 16 = 8 + 64/8. So D = 4.
    assert get_D([3 + math.sqrt(7), 3 - math.sqrt(7)], 1) == pytest.approx(4.0, rel=1e-14)


def test_two_coin_hand_example_amp_100():
    # amp=100 -> Ann = 200. Want D = 100 with P = x*y = 1000:
    # 200*S + 100 = 200*100 + 100^3/(4*1000) = 20250  ->  S = 100.75,
    # x, y = (100.75 +- sqrt(100.75^2 - 4000)) / 2.
    root = math.sqrt(100.75**2 - 4000)
    balances = [(100.75 + root) / 2, (100.75 - root) / 2]
    assert get_D(balances, 100) == pytest.approx(100.0, rel=1e-14)
    # get_y_D solves the same equation for one balance: knowing D = 100 and y, find x.
    assert get_y_D(0, 100.0, balances, 100) == pytest.approx(balances[0], rel=1e-13)


def test_amp_limits_the_invariant_between_constant_product_and_constant_sum():
    # x=1, y=4: constant product D = 2*sqrt(4) = 4 (amp -> 0), constant sum D = 5 (amp -> inf).
    low, mid, high = (get_D([1.0, 4.0], a) for a in (1, 100, 1e6))
    assert 4.0 < low < mid < high < 5.0
    assert high == pytest.approx(5.0, rel=1e-5)


def test_small_swap_at_balance_pays_one_minus_fee():
    # At balance the marginal price is exactly 1; 1 DAI in a 3 x 1e6 pool with A=2000 pays
    # 1 - fee minus a slippage of order dx^2 / (A-scaled depth), far below 1e-6.
    dy = get_dy(0, 1, 1.0, [1e6, 1e6, 1e6], 2000, 0.0001)
    assert 0.9999 - 1e-6 < dy < 0.9999


# -- the invariant: against the integer 3pool port -----------------------------------------
def test_get_D_matches_3pool_integer_math_on_real_state():
    D_int = vy_get_D(THREEPOOL_XP, THREEPOOL_A)
    assert get_D(to_float(THREEPOOL_XP), THREEPOOL_A) == pytest.approx(D_int / E18, rel=1e-13)


@pytest.mark.parametrize(("i", "j"), [(0, 1), (1, 2), (2, 0)])
@pytest.mark.parametrize("dx_tokens", [1_000, 100_000, 10_000_000, 60_000_000])
def test_get_dy_and_get_y_match_3pool_integer_math(i, j, dx_tokens):
    dx = dx_tokens * E18
    xp = to_float(THREEPOOL_XP)
    y_int = vy_get_y(i, j, THREEPOOL_XP[i] + dx, THREEPOOL_XP, THREEPOOL_A)
    assert get_y(i, j, xp[i] + dx_tokens, xp, THREEPOOL_A) == pytest.approx(y_int / E18, rel=1e-13)
    dy_int = vy_get_dy(i, j, dx, THREEPOOL_XP, THREEPOOL_A, THREEPOOL_FEE)
    dy = get_dy(i, j, float(dx_tokens), xp, THREEPOOL_A, THREEPOOL_FEE / FEE_DENOMINATOR)
    assert dy == pytest.approx(dy_int / E18, rel=1e-9)


def test_liquidity_operations_match_3pool_integer_math():
    ledger = make_ledger(holdings=1e9)
    pool = StableSwapPool(ledger, "curve3", COINS, THREEPOOL_A, fee=0.0001, admin_fee=0.5)
    xp = to_float(THREEPOOL_XP)
    first = pool.add_liquidity("lp", dict(zip(COINS, xp, strict=True)))
    supply_int = vy_get_D(THREEPOOL_XP, THREEPOOL_A)  # the first deposit mints D
    assert first == pytest.approx(supply_int / E18, rel=1e-13)

    for i, coin in enumerate(COINS):
        expected = vy_calc_withdraw_one_coin(
            5_000_000 * E18, i, THREEPOOL_XP, supply_int, THREEPOOL_A, THREEPOOL_FEE
        )
        assert pool.calc_withdraw_one_coin(5e6, coin) == pytest.approx(expected / E18, rel=1e-9)

    deposit = [3_000_000, 0, 250_000]  # imbalanced: pays the imbalance fee
    minted_int, admin_int = vy_add_liquidity(
        [d * E18 for d in deposit], THREEPOOL_XP, supply_int, THREEPOOL_A, THREEPOOL_FEE, 5 * 10**9
    )
    minted = pool.add_liquidity("lp", dict(zip(COINS, map(float, deposit), strict=True)))
    assert minted == pytest.approx(minted_int / E18, rel=1e-9)
    for coin, fee_int in zip(COINS, admin_int, strict=True):
        assert ledger.balance_of("curve3:admin", coin) == pytest.approx(fee_int / E18, rel=1e-6)


# -- the invariant: properties -------------------------------------------------------------
balance = st.floats(min_value=1e-3, max_value=1e10)
balances_st = st.lists(balance, min_size=2, max_size=5)
amp_st = st.floats(min_value=1, max_value=1e5)


@settings(max_examples=200, deadline=None)
@given(balances_st, amp_st, st.floats(min_value=1e-3, max_value=1e3), st.data())
def test_get_y_inverts_get_D(xp, amp, factor, data):
    i, j = data.draw(st.permutations(range(len(xp))))[:2]
    D = get_D(xp, amp)
    moved = list(xp)
    moved[i] = xp[i] * factor
    moved[j] = get_y(i, j, moved[i], xp, amp)
    assert get_D(moved, amp) == pytest.approx(D, rel=1e-12)
    # and get_y_D finds coin j's balance back from D
    assert get_y_D(j, D, moved, amp) == pytest.approx(moved[j], rel=1e-12, abs=1e-13 * D)


@settings(max_examples=200, deadline=None)
@given(balances_st, amp_st, st.floats(min_value=0, max_value=0.01), st.data())
def test_get_dx_inverts_get_dy(xp, amp, fee, data):
    i, j = data.draw(st.permutations(range(len(xp))))[:2]
    dy = xp[j] * data.draw(st.floats(min_value=1e-6, max_value=0.9))
    dx = get_dx(i, j, dy, xp, amp, fee)
    assume(min(dx, dy) > 1e-9 * max(xp))  # float rounding (~1e-15 max(xp)) stays < 1e-6
    assert get_dy(i, j, dx, xp, amp, fee) == pytest.approx(dy, rel=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 5), balance, amp_st, st.floats(min_value=0, max_value=1e12))
def test_balanced_pool_never_pays_more_than_one_to_one(n, x, amp, dx):
    # Floats resolve balances to ~1e-15 * D (the contract: 1 wei), hence the absolute slack.
    assert get_dy(0, 1, dx, [x] * n, amp, 0.0) <= dx * (1 + 1e-12) + 1e-14 * n * x


@settings(max_examples=150, deadline=None)
@given(balances_st, amp_st, st.data())
def test_marginal_price_is_the_limit_of_small_trades(xp, amp, data):
    # The price of coin i in j lies between a small sell of i (convexity: pays a bit less)
    # and the reciprocal of a small sell of j (costs a bit more); both converge to it.
    i, j = data.draw(st.permutations(range(len(xp))))[:2]
    h = 1e-5 * min(xp[i], xp[j])
    assume(h > 1e-9 * max(xp))  # float rounding of dy (~1e-15 max(xp)) stays below 1e-6 of it
    p = marginal_price(i, j, xp, amp)
    sell_i = get_dy(i, j, h, xp, amp, 0.0) / h
    sell_j = get_dy(j, i, h, xp, amp, 0.0) / h
    assert sell_i <= p * (1 + 1e-5)
    assert p <= (1 / sell_j) * (1 + 1e-5)
    assert p == pytest.approx(sell_i, rel=1e-3)
    assert marginal_price(j, i, xp, amp) == pytest.approx(1 / p, rel=1e-14)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: get_D([1.0], 100), InvalidAmount, "at least 2"),
        (lambda: get_D([1.0, -1.0], 100), InvalidAmount, r"balances\[1\]"),
        (lambda: get_D([1.0, math.nan], 100), InvalidAmount, "finite"),
        (lambda: get_D([1.0, 0.0], 100), InsufficientLiquidity, "zero"),
        (lambda: get_D([1.0, 1.0], 0.5), InvalidAmount, "amp"),
        (lambda: get_D([1.0, 1.0], 2e6), InvalidAmount, "MAX_A"),
        (lambda: get_y(0, 0, 1.0, [1.0, 1.0], 100), InvalidAmount, "differ"),
        (lambda: get_y(0, 2, 1.0, [1.0, 1.0], 100), InvalidAmount, "j"),
        (lambda: get_y(True, 1, 1.0, [1.0, 1.0], 100), InvalidAmount, "i"),
        (lambda: get_y(0, 1, 0.0, [1.0, 1.0], 100), InvalidAmount, "x"),
        (lambda: get_dy(0, 1, 1.0, [1.0, 1.0], 100, 0.6), InvalidAmount, "MAX_FEE"),
        (lambda: get_dy(0, 1, 1.0, [0.0, 0.0], 100, 0.0), InsufficientLiquidity, "no liq"),
        (lambda: get_dx(0, 1, 2.0, [1.0, 1.0], 100, 0.0), InsufficientLiquidity, "amount_out"),
        (lambda: get_y_D(3, 1.0, [1.0, 1.0], 100), InvalidAmount, "i"),
    ],
)
def test_pure_functions_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- the pool: ledger effects --------------------------------------------------------------
def test_swap_moves_input_output_and_admin_fee(pool):
    ledger = pool.ledger
    quote = pool.quote_exact_in("DAI", "USDC", 1000.0)
    dy = pool.swap_exact_in("trader", "DAI", "USDC", 1000.0, min_amount_out=quote)
    assert dy == quote
    # Fee is charged on the gross output: gross = dy / (1 - fee); admin gets half its fee.
    admin = dy / (1 - 0.0001) * 0.0001 * 0.5
    assert ledger.balance_of("trader", "DAI") == 1e9 - 1000.0
    assert ledger.balance_of("trader", "USDC") == 1e9 + dy
    assert ledger.balance_of("curve3:admin", "USDC") == pytest.approx(admin, rel=1e-9)
    assert pool.reserves() == {
        "DAI": 1e6 + 1000.0,
        "USDC": pytest.approx(1e6 - dy - admin, rel=1e-15),
        "USDT": 1e6,
    }
    assert 999.89 < dy < 999.9  # 1000 * (1 - fee) minus a tiny slippage at A = 2000
    ledger.check_conservation()


def test_swap_exact_out_pays_exactly_and_agrees_with_exact_in(pool):
    quoted = pool.quote_exact_out("USDT", "DAI", 5000.0)
    twin = make_pool()
    dx = pool.swap_exact_out("trader", "USDT", "DAI", 5000.0, max_amount_in=quoted)
    assert dx == quoted
    assert pool.ledger.balance_of("trader", "DAI") == 1e9 + 5000.0
    assert pool.ledger.balance_of("trader", "USDT") == 1e9 - dx
    assert twin.swap_exact_in("trader", "USDT", "DAI", dx) == pytest.approx(5000.0, rel=1e-12)
    assert pool.reserves() == pytest.approx(twin.reserves(), rel=1e-12)
    assert pool.ledger.balance_of("curve3:admin", "DAI") == pytest.approx(
        twin.ledger.balance_of("curve3:admin", "DAI"), rel=1e-9
    )


def test_spot_price_at_balance_and_off_balance(pool):
    assert pool.spot_price("DAI", "USDT") == pytest.approx(1.0, rel=1e-15)
    pool.swap_exact_in("trader", "DAI", "USDT", 900_000.0)  # now DAI-heavy: DAI is cheap
    cheap = pool.spot_price("DAI", "USDT")
    assert cheap < 1.0
    assert pool.spot_price("USDT", "DAI") == pytest.approx(1 / cheap, rel=1e-14)
    assert pool.spot_price("USDC", "DAI") > 1.0


def test_first_deposit_mints_D_and_virtual_price_starts_at_one(pool):
    assert pool.lp_supply() == 3e6
    assert pool.ledger.balance_of("lp", "curve3:LP") == 3e6
    assert pool.virtual_price() == 1.0
    assert pool.invariant() == 3e6


def test_balanced_deposit_pays_no_fee_and_mints_pro_rata(pool):
    minted = pool.add_liquidity("trader", {c: 1000.0 for c in COINS})
    assert minted == pytest.approx(3000.0, rel=1e-12)
    assert pool.ledger.holders("DAI").get("curve3:admin", 0.0) < 1e-9


def test_imbalanced_deposit_pays_the_imbalance_fee_by_hand():
    # 2 coins, fee 0.01 -> imbalance fee 0.01 * 2 / (4 * 1) = 0.005. amp=1e6 is almost a
    # constant sum, so D1 ~ 200 + 100 = 300 and ideal balances ~ 150 each: fees
    # ~ 0.005 * |150 - 200| = 0.25 per coin (B too: |150 - 100|), admin gets half of each.
    ledger = Ledger()
    for coin in ("A", "B"):
        ledger.create_token(coin, issuer="mint")
        ledger.mint(coin, "lp", 1000.0, by="mint")
    pool = StableSwapPool(ledger, "p", ("A", "B"), 1e6, fee=0.01, admin_fee=0.5)
    pool.add_liquidity("lp", {"A": 100.0, "B": 100.0})
    minted = pool.add_liquidity("lp", {"A": 100.0})
    assert ledger.balance_of("p:admin", "A") == pytest.approx(0.125, rel=1e-4)
    assert ledger.balance_of("p:admin", "B") == pytest.approx(0.125, rel=1e-4)
    # D2 ~ 300 - 2*0.25 = 299.5, mint = 200 * (299.5 - 200) / 200 = 99.5
    assert minted == pytest.approx(99.5, rel=1e-4)
    ledger.check_conservation()


def test_remove_liquidity_is_pro_rata_without_fee(pool):
    pool.swap_exact_in("trader", "DAI", "USDC", 200_000.0)
    reserves = pool.reserves()
    out = pool.remove_liquidity("lp", 3e5)  # 10 % of the supply
    assert out == pytest.approx({c: r / 10 for c, r in reserves.items()}, rel=1e-15)
    assert pool.lp_supply() == pytest.approx(2.7e6)
    pool.ledger.check_conservation()


def test_remove_liquidity_one_coin_matches_its_quote_and_costs_a_fee(pool):
    pool.swap_exact_in("trader", "DAI", "USDC", 300_000.0)  # USDC is now scarce
    quote = {c: pool.calc_withdraw_one_coin(1e5, c) for c in COINS}
    vp = pool.virtual_price()
    got = pool.remove_liquidity_one_coin("lp", 1e5, "USDC")
    assert got == quote["USDC"]
    assert quote["DAI"] > 1e5 * vp > quote["USDC"]  # plentiful coin pays more
    assert pool.ledger.balance_of("curve3:admin", "USDC") > 0
    assert pool.virtual_price() >= vp
    pool.ledger.check_conservation()


def test_everyone_can_leave_and_the_pool_restarts():
    pool = make_pool()
    pool.swap_exact_in("trader", "DAI", "USDT", 10_000.0)
    pool.remove_liquidity("lp", 1e6)
    pool.remove_liquidity("lp", 1e6)
    pool.remove_liquidity_one_coin("lp", pool.ledger.balance_of("lp", "curve3:LP"), "DAI")
    assert pool.lp_supply() == 0.0
    assert pool.reserves()["DAI"] == 0.0
    with pytest.raises(InsufficientLiquidity):
        pool.virtual_price()
    # Dust left by the one-coin exit goes to the next first depositor, as in the contract.
    minted = pool.add_liquidity("trader", {c: 10.0 for c in COINS})
    assert minted == pytest.approx(pool.invariant())
    pool.ledger.check_conservation()


def test_drained_coin_blocks_swaps_but_not_balanced_exit(pool):
    pool.ledger.transfer("USDC", "curve3", "hacker", 1e6)  # an exploit empties one coin
    with pytest.raises(InsufficientLiquidity, match="zero"):
        pool.quote_exact_in("DAI", "USDT", 1.0)
    with pytest.raises(InsufficientLiquidity):
        pool.spot_price("DAI", "USDT")
    out = pool.remove_liquidity("lp", 3e6)
    assert out == {"DAI": 1e6, "USDC": 0.0, "USDT": 1e6}


def test_amp_is_settable_and_validated(pool):
    pool.swap_exact_in("trader", "DAI", "USDC", 500_000.0)
    before = pool.spot_price("DAI", "USDC")
    pool.amp = 10
    assert pool.spot_price("DAI", "USDC") < before  # lower A: price reacts more
    with pytest.raises(InvalidAmount, match="amp"):
        pool.amp = 0
    assert pool.amp == 10


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"tokens": ("DAI",)}, InvalidAmount, "tokens"),
        ({"tokens": ("DAI", "DAI")}, InvalidAmount, "distinct"),
        ({"tokens": ("DAI", "FRAX")}, UnknownToken, "FRAX"),
        ({"amp": 0.0}, InvalidAmount, "amp"),
        ({"fee": 0.51}, InvalidAmount, "fee"),
        ({"admin_fee": 1.5}, InvalidAmount, "admin_fee"),
        ({"name": "taken"}, LedgerError, "already exists"),
    ],
)
def test_constructor_rejects_bad_parameters_and_creates_nothing(kwargs, error, message):
    ledger = make_ledger()
    ledger.create_token("taken:LP", issuer="someone")
    args = {"name": "curve", "tokens": COINS, "amp": 100.0} | kwargs
    before = snapshot(ledger)
    with pytest.raises(error, match=message):
        StableSwapPool(ledger, **args)
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    ("operation", "error", "message"),
    [
        (lambda p: p.swap_exact_in("trader", "DAI", "USDC", 10.0, 10.0), SlippageExceeded, "min"),
        (lambda p: p.swap_exact_in("nobody", "DAI", "USDC", 10.0), InsufficientBalance, "nobody"),
        (lambda p: p.swap_exact_in("trader", "DAI", "DAI", 10.0), InvalidAmount, "token_out"),
        (lambda p: p.swap_exact_in("trader", "FRAX", "DAI", 1.0), UnknownToken, "token_in"),
        (lambda p: p.swap_exact_in("trader", "DAI", "USDC", 0.0), InvalidAmount, "amount_in"),
        (lambda p: p.swap_exact_in("trader", "DAI", "USDC", -1.0), InvalidAmount, "amount_in"),
        (lambda p: p.swap_exact_in("trader", "DAI", "USDC", math.nan), InvalidAmount, "finite"),
        (lambda p: p.swap_exact_out("trader", "DAI", "USDC", 1e6), InsufficientLiquidity, "out"),
        (lambda p: p.swap_exact_out("trader", "DAI", "USDC", 10.0, 10.0), SlippageExceeded, "max"),
        (lambda p: p.swap_exact_out("nobody", "DAI", "USDC", 1.0), InsufficientBalance, "nobody"),
        (lambda p: p.spot_price("DAI", "FRAX"), UnknownToken, "quote"),
        (lambda p: p.add_liquidity("trader", {"DAI": 1.0, "FRAX": 1.0}), UnknownToken, "amounts"),
        (lambda p: p.add_liquidity("trader", {"DAI": -1.0}), InvalidAmount, "amounts"),
        (lambda p: p.add_liquidity("trader", {}), InvalidAmount, "invariant"),
        (
            lambda p: p.add_liquidity("trader", {"DAI": 1.0, "USDT": 2e9}),
            InsufficientBalance,
            "USDT",
        ),
        (lambda p: p.remove_liquidity("trader", 1.0), InsufficientBalance, "trader"),
        (lambda p: p.remove_liquidity("lp", 0.0), InvalidAmount, "lp_amount"),
        (lambda p: p.remove_liquidity_one_coin("lp", 4e6, "DAI"), InsufficientBalance, "lp"),
        (lambda p: p.remove_liquidity_one_coin("lp", 1.0, "FRAX"), UnknownToken, "coin"),
    ],
)
def test_rejected_operations_raise_and_change_nothing(pool, operation, error, message):
    before = snapshot(pool.ledger)
    with pytest.raises(error, match=message):
        operation(pool)
    assert snapshot(pool.ledger) == before


def test_deposit_whose_fee_exceeds_a_balance_is_refused():
    # fee 0.5 -> imbalance fee 0.1875; 1e8 DAI into 3 x 1e6 makes the ideal USDC balance
    # ~ D1/3 ~ 3e7, fee 0.1875 * 2.9e7 > 1e6 held: the contract's uint would underflow.
    pool = make_pool(fee=0.5)
    before = snapshot(pool.ledger)
    with pytest.raises(InsufficientLiquidity, match="imbalanced"):
        pool.add_liquidity("trader", {"DAI": 1e8})
    assert snapshot(pool.ledger) == before


def test_first_deposit_needs_every_coin():
    ledger = make_ledger()
    pool = StableSwapPool(ledger, "curve3", COINS, 100)
    before = snapshot(ledger)
    with pytest.raises(InvalidAmount, match="first deposit"):
        pool.add_liquidity("lp", {"DAI": 1.0, "USDC": 1.0})
    assert snapshot(ledger) == before


# -- the pool: properties ------------------------------------------------------------------
def price_spread(pool: StableSwapPool) -> float:
    """Ratio of the dearest to the cheapest coin's marginal price (inf if one is drained).

    Ledger balances resolve to an ulp of the largest balance; a coin priced p times another
    moves D by ~ulp * p per rounding, so the 1e-12-level D/virtual-price properties are
    checked where prices stay within 1e3 of each other (the contract rounds by 1 wei).
    """
    try:
        prices = [1.0] + [pool.spot_price(coin, COINS[0]) for coin in COINS[1:]]
    except InsufficientLiquidity:
        return math.inf
    return max(prices) / min(prices)


pool_balances = st.tuples(*[st.floats(min_value=1e3, max_value=4e8)] * 3)  # trades <= 2x
pool_amp = st.sampled_from([1.0, 10.0, 200.0, 2000.0, 1e5])
pair = st.permutations(COINS).map(lambda c: c[:2])
fraction = st.floats(min_value=1e-9, max_value=2.0)


@settings(max_examples=150, deadline=None)
@given(pool_balances, pool_amp, st.sampled_from([0.0, 0.0001, 0.004]), pair, fraction)
def test_swaps_never_decrease_D_and_keep_it_without_fees(balances, amp, fee, coins, size):
    pool = make_pool(balances, amp, fee)
    D, vp = pool.invariant(), pool.virtual_price()
    token_in, token_out = coins
    pool.swap_exact_in("trader", token_in, token_out, size * pool.reserves()[token_in])
    assume(price_spread(pool) < 1e3)  # see price_spread
    if fee == 0:
        assert pool.invariant() == pytest.approx(D, rel=1e-12)
    else:
        assert pool.invariant() >= D * (1 - 1e-14)
        assert pool.virtual_price() >= vp * (1 - 1e-14)


@settings(max_examples=150, deadline=None)
@given(pool_balances, pool_amp, st.sampled_from([0.0, 0.0001, 0.004]), pair, fraction)
def test_swap_then_reverse_never_profits(balances, amp, fee, coins, size):
    pool = make_pool(balances, amp, fee)
    token_in, token_out = coins
    amount = size * pool.reserves()[token_in]
    received = pool.swap_exact_in("trader", token_in, token_out, amount)
    spread = price_spread(pool)
    back = pool.swap_exact_in("trader", token_out, token_in, received)
    # Slack: float balances resolve to ~1e-15 of the largest, worth up to spread times more.
    assert back <= amount * (1 + 1e-12) + 1e-14 * max(balances) * spread


operation_st = st.lists(
    st.tuples(
        st.sampled_from(["swap_in", "swap_out", "add", "add_balanced", "remove", "remove_one"]),
        pair,
        st.floats(min_value=1e-6, max_value=1.5),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(pool_balances, pool_amp, operation_st)
def test_random_operations_conserve_money_and_never_lower_virtual_price(balances, amp, ops):
    pool = make_pool(balances, amp, fee=0.0004)
    ledger = pool.ledger
    for kind, (a, b), f in ops:
        reserves = pool.reserves()
        vp = pool.virtual_price() if pool.lp_supply() else None
        lp_held = ledger.balance_of("lp", "curve3:LP")
        supply = pool.lp_supply()
        before = snapshot(ledger)
        try:
            if kind == "swap_in":
                pool.swap_exact_in("trader", a, b, f * reserves[a])
            elif kind == "swap_out":
                pool.swap_exact_out("trader", a, b, f * reserves[b])
            elif kind == "add":
                pool.add_liquidity("lp", {a: f * reserves[a]})
            elif kind == "add_balanced":
                pool.add_liquidity("lp", {c: f * r for c, r in reserves.items()})
            elif kind == "remove":
                pool.remove_liquidity("lp", min(f, 1.0) * lp_held)
            else:
                pool.remove_liquidity_one_coin("lp", min(f, 1.0) * lp_held, a)
        except DaosimError:
            assert snapshot(ledger) == before
        ledger.check_conservation()
        if vp is not None and pool.lp_supply() > 0 and price_spread(pool) < 1e3:
            # exits of most of the LP cancel digits: slack grows with supply_before/after
            slack = 1e-13 * max(1.0, supply / pool.lp_supply())
            assert pool.virtual_price() >= vp * (1 - slack)
