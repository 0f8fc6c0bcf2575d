"""One trading surface for every pool (protocols.amm.pool.Pool): each pool offers every
member the protocol declares, and its price- and rate-limited quotes land where they say."""

import inspect
import math
import typing

import pytest

from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.constant_product import ConstantProductPool
from protocols.amm.pool import Pool
from protocols.amm.stableswap import StableSwapPool
from protocols.amm.v3_math import ticks_around
from protocols.ledger import Ledger

FUNDS = 1e12


def ledger_with(*tokens: str) -> Ledger:
    ledger = Ledger()
    for token in tokens:
        ledger.create_token(token, issuer="mint")
        ledger.mint(token, "lp", FUNDS, by="mint")
        ledger.mint(token, "trader", FUNDS, by="mint")
    return ledger


def v2() -> ConstantProductPool:
    pool = ConstantProductPool(ledger_with("A", "B"), "v2", "A", "B", fee=0.003)
    pool.add_liquidity("lp", {"A": 1_000.0, "B": 3_000.0})  # B per A: 3
    return pool


def curve() -> StableSwapPool:
    pool = StableSwapPool(ledger_with("A", "B"), "curve", ["A", "B"], 200.0, fee=0.0004)
    pool.add_liquidity("lp", {"A": 1e6, "B": 1.2e6})  # A a little scarcer: dearer than 1 B
    return pool


def v3() -> ConcentratedLiquidityPool:
    pool = ConcentratedLiquidityPool(ledger_with("A", "B"), "v3", "A", "B", fee=0.003,
                                     tick_spacing=60, sqrt_price=math.sqrt(3.0))
    lower, upper = ticks_around(3.0, 0.5, 60)
    pool.mint_for_amounts("lp", lower, upper, 1_000.0, 3_000.0)
    return pool


POOLS = [v2, curve, v3]


@pytest.mark.parametrize("make", POOLS)
def test_every_pool_offers_every_member_of_the_pool_protocol(make):
    pool = make()
    for name in typing.get_type_hints(Pool):
        assert hasattr(pool, name), name
    members = [n for n, f in vars(Pool).items() if inspect.isfunction(f) and not n.startswith("_")]
    assert len(members) >= 8
    for name in members:
        declared = list(inspect.signature(getattr(Pool, name)).parameters)[1:]
        offered = list(inspect.signature(getattr(pool, name)).parameters)
        assert offered == declared, name
    assert (pool.lp_token is None) == isinstance(pool, ConcentratedLiquidityPool)


def marginal_rate(pool, token_in: str, token_out: str, amount: float) -> float:
    """d(out)/d(in) of the next unit after selling `amount`: a central difference of quotes."""
    h = 1e-5 * amount
    return (pool.quote_exact_in(token_in, token_out, amount + h)
            - pool.quote_exact_in(token_in, token_out, amount - h)) / (2 * h)


@pytest.mark.parametrize("make", POOLS)
@pytest.mark.parametrize(("token_in", "token_out", "below"), [("A", "B", 0.97), ("B", "A", 0.97)])
def test_quote_to_rate_sells_until_the_next_unit_pays_the_rate(make, token_in, token_out, below):
    pool = make()
    first = (1 - pool.fee) * pool.spot_price(token_in, token_out)
    rate = first * below  # 3 % below what the first unit pays
    amount_in, amount_out = pool.quote_to_rate(token_in, token_out, rate)
    assert amount_in > 0
    assert amount_out == pytest.approx(pool.quote_exact_in(token_in, token_out, amount_in),
                                       rel=1e-12)
    # v2 and v3 land exactly; Curve's Brent solve to a relative 1e-7 in the amount
    assert marginal_rate(pool, token_in, token_out, amount_in) == pytest.approx(rate, rel=1e-6)
    assert pool.quote_to_rate(token_in, token_out, first * 1.01) == (0.0, 0.0)


@pytest.mark.parametrize("make", POOLS)
def test_quote_to_price_is_quote_to_rate_at_one_minus_fee_of_the_price(make):
    pool = make()
    price = pool.spot_price("A", "B") * 0.95
    by_price = pool.quote_to_price("A", "B", price)
    by_rate = pool.quote_to_rate("A", "B", price * (1 - pool.fee))
    assert by_price == pytest.approx(by_rate, rel=1e-9)


def test_v2_quote_to_rate_is_the_closed_form_hand_checked():
    # reserves 1000 A / 3000 B, fee 0.3 %, rate 2.5 B per A:
    # x* = R_in (sqrt(g R_out / (R_in rate)) - 1) / g = 1000 (sqrt(0.997 * 3 / 2.5) - 1) / 0.997
    amount_in, _ = v2().quote_to_rate("A", "B", 2.5)
    assert amount_in == pytest.approx(1000 * (math.sqrt(0.997 * 3 / 2.5) - 1) / 0.997, rel=1e-14)


@pytest.mark.parametrize("make", POOLS)
def test_quote_exact_out_is_what_swap_exact_out_takes(make):
    pool = make()
    quoted = pool.quote_exact_out("A", "B", 50.0)
    assert pool.quote_exact_in("A", "B", quoted) == pytest.approx(50.0, rel=1e-9)
    assert pool.swap_exact_out("trader", "A", "B", 50.0) == quoted
