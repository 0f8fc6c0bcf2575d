"""Random operation sequences: conservation, the accounting identity, sane liquidations, and
refused operations changing nothing."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DaosimError
from protocols.lending import LendingMarket, health_factor, liquidation_amounts
from tests.protocols.test_lending_market import check_accounting, make_world, snapshot

ACTORS = ("lp", "bob", "carol", "vault")
fraction = st.floats(0.01, 1.0)
operation = st.one_of(
    st.tuples(st.just("supply"), st.sampled_from(ACTORS), st.integers(0, 1), fraction),
    st.tuples(st.just("withdraw"), st.sampled_from(ACTORS), st.integers(0, 1), fraction),
    st.tuples(st.just("open"), st.sampled_from(ACTORS), st.integers(0, 1), fraction),
    st.tuples(st.just("deposit"), st.integers(0, 5), st.integers(0, 1), fraction),
    st.tuples(st.just("borrow"), st.integers(0, 5), st.integers(0, 1), st.floats(0.01, 1.2)),
    st.tuples(st.just("repay"), st.integers(0, 5), st.integers(0, 1), st.floats(0.01, 1.2)),
    st.tuples(st.just("unlock"), st.integers(0, 5), st.integers(0, 1), fraction),
    st.tuples(st.just("price"), st.just(""), st.integers(0, 1), st.floats(0.5, 1.2)),
    st.tuples(
        st.just("accrue"), st.just(""), st.integers(0, 1), st.sampled_from([1 / 8760, 0.02, 0.5])
    ),
    st.tuples(st.just("liquidate"), st.integers(0, 5), st.booleans(), st.floats(0.01, 1.5)),
)


def apply(market: LendingMarket, oracles, op) -> None:
    kind, who, a, x = op
    asset = market.assets[a]
    ledger = market.ledger
    n = market.n_positions
    pid = who % n if isinstance(who, int) and n else 0
    if kind == "supply":
        market.supply(who, asset, x * ledger.balance_of(who, asset))
    elif kind == "withdraw":
        market.withdraw(who, asset, x * market.balance_of(who, asset))
    elif kind == "open":
        market.open_position(who)
    elif kind == "deposit":
        market.deposit_collateral(pid, asset, x * ledger.balance_of(market.owner[pid], asset) / 10)
    elif kind == "borrow":  # up to 120 % of what the LTV allows: some are refused
        power = market.borrowing_power()[pid]
        market.borrow(pid, asset, x * power / oracles[asset].price)
    elif kind == "repay":
        market.repay(pid, asset, x * market.debt_of(pid)[a])
    elif kind == "unlock":
        market.withdraw_collateral(pid, asset, x * market.collateral_of(pid)[a])
    elif kind == "price":
        oracles[asset].price *= x if asset == "WETH" else min(max(x, 0.9), 1.1)
    elif kind == "accrue":
        market.accrue(x)
    else:
        liquidate(market, oracles, who, receive_a_token=a, fraction=x)


def liquidate(market, oracles, who, receive_a_token, fraction) -> None:
    candidates = market.liquidatable()
    if not candidates.size:
        return
    pid = int(candidates[who % candidates.size])
    prices = np.array([oracles[a].price for a in market.assets])
    coll_before, debt_before = market.collateral_of(pid), market.debt_of(pid)
    c, d = int(np.argmax(coll_before * prices)), int(np.argmax(debt_before * prices))
    ledger, liq = market.ledger, "liq"
    a_token = market.receipt_token(market.assets[c])
    index = market.exchange_rate(market.assets[c])
    held = [ledger.balance_of(liq, a) for a in market.assets] + [ledger.balance_of(liq, a_token)]
    result = market.liquidate(
        liq,
        pid,
        market.assets[c],
        market.assets[d],
        fraction * debt_before[d],
        receive_a_token=receive_a_token,
    )
    moved = np.subtract(
        [ledger.balance_of(liq, a) for a in market.assets] + [ledger.balance_of(liq, a_token)], held
    )
    # the ledger moved exactly what the result says
    expected = np.zeros(3)
    expected[d] -= result.debt_repaid
    if receive_a_token:
        expected[2] = result.liquidator_collateral / index
    else:
        expected[c] += result.liquidator_collateral
    assert np.allclose(moved, expected, rtol=1e-9, atol=1e-9)
    # a liquidation never raises a debt, and never costs the liquidator at oracle prices
    assert (market.debt_of(pid) <= debt_before * (1 + 1e-12)).all()
    assert 0 < result.debt_repaid <= debt_before[d] * (1 + 1e-12)
    repaid_value = result.debt_repaid * prices[d]
    assert result.liquidator_collateral * prices[c] >= repaid_value * (1 - 1e-12)


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(operation, min_size=10, max_size=40))
def test_random_sequences_keep_the_books_consistent(ops):
    ledger, oracles, market = make_world()
    market.supply("lp", "USDC", 200_000.0)
    market.supply("lp", "WETH", 100.0)
    for owner in ("bob", "carol"):
        pid = market.open_position(owner)
        market.deposit_collateral(pid, "WETH", 20.0)
        market.borrow(pid, "USDC", 33_000.0)  # HF 1.056
    for op in ops:
        before = snapshot(market)
        try:
            apply(market, oracles, op)
        except DaosimError:
            assert snapshot(market) == before, f"refused {op} changed state"
        check_accounting(market)


@settings(max_examples=100, deadline=None)
@given(
    debt=st.floats(1e-6, 1e7),
    balance=st.floats(1e-6, 1e7),
    debt_price=st.floats(1e-3, 1e5),
    coll_price=st.floats(1e-3, 1e5),
    bonus=st.floats(0.0, 0.2),
    fee=st.floats(0.0, 1.0),
)
def test_liquidation_amounts_never_overpay(debt, balance, debt_price, coll_price, bonus, fee):
    seized, repaid, protocol_fee = liquidation_amounts(
        debt, balance, debt_price, coll_price, bonus, fee
    )
    assert 0 <= seized <= balance and 0 <= repaid <= debt * (1 + 1e-12)
    assert 0 <= protocol_fee <= seized
    # the liquidator's collateral is worth at least what it repaid
    assert (seized - protocol_fee) * coll_price >= repaid * debt_price * (1 - 1e-12)
    # one position in plain floats takes a shortcut past numpy: the very same numbers
    vector = liquidation_amounts(
        np.array([debt]), np.array([balance]), debt_price, coll_price, bonus, fee
    )
    assert (seized, repaid, protocol_fee) == tuple(float(x[0]) for x in vector)
    assert all(type(x) is float for x in (seized, repaid, protocol_fee))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), weth=st.floats(100.0, 4000.0))
def test_book_health_factors_match_the_helper(seed, weth):
    rng = np.random.default_rng(seed)
    _, oracles, market = make_world()
    market.supply("lp", "USDC", 1e6)
    market.supply("lp", "WETH", 100.0)
    n = 30
    coll = rng.uniform(0, 5, (n, 2)) * [1.0, 2000.0]
    debt = np.column_stack(
        [rng.uniform(0, 0.3, n) * coll[:, 0], rng.uniform(0, 0.3, n) * coll[:, 1]]
    )
    market.open_positions(["bob"] * n, coll, debt)
    market.accrue(0.25)
    oracles["WETH"].price = weth
    prices = [weth, 1.0]
    expected = health_factor(
        market.collateral_scaled * [market.exchange_rate(a) for a in market.assets],
        market.debt_scaled * [market.borrow_index(a) for a in market.assets],
        prices,
        [0.83, 0.8],
    )
    assert np.allclose(market.health_factors(), expected, rtol=1e-12)
    assert market.liquidatable().tolist() == np.flatnonzero(expected < 1).tolist()
