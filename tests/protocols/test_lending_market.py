"""LendingMarket: hand-checked supply, borrow, interest and liquidation; refusals change nothing."""

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from protocols.errors import (
    ConfigError,
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    UnknownToken,
)
from protocols.ledger import Ledger
from protocols.lending import (
    CapExceeded,
    InsufficientCollateral,
    KinkedRate,
    LendingError,
    LendingMarket,
    NoDebt,
    NotLiquidatable,
    ReserveDisabled,
    UnknownPosition,
    UnknownReserve,
    compounded_interest,
    health_factor,
    load_aave_params,
    market_shortfall,
    shortfalls,
)
from sim.historical import default_data_dir

AAVE_CSV = default_data_dir() / "aave_v3_ethereum_risk_params_2023-10-31.csv"
if not AAVE_CSV.is_file():  # a clone without the shared data folder beside it
    pytest.skip(f"no Aave parameter file at {AAVE_CSV}", allow_module_level=True)
PARAMS = load_aave_params(AAVE_CSV, ["WETH", "USDC"])
ASSETS = ("WETH", "USDC")


def make_world(params=PARAMS, weth_price=2100.0, **market_kwargs):
    """Ledger with WETH/USDC, oracles (objects with .price), an 'aave' market and rich actors."""
    ledger = Ledger()
    for token in ASSETS:
        ledger.create_token(token, issuer="bank")
    for actor in ("lp", "bob", "carol", "liq", "vault"):
        ledger.mint("WETH", actor, 1_000.0, by="bank")
        ledger.mint("USDC", actor, 1_000_000.0, by="bank")
    oracles = {"WETH": SimpleNamespace(price=weth_price), "USDC": SimpleNamespace(price=1.0)}
    market = LendingMarket(ledger, "aave", params, oracles, **market_kwargs)
    return ledger, oracles, market


def snapshot(market: LendingMarket):
    """Ledger and market state, without the risk parameters (only governance changes them)."""
    state = market.snapshot()
    del state["liquidation_threshold"], state["ltv"]
    return market.ledger.snapshot(), state


def set_liquidity_index(market: LendingMarket, asset: str, value: float) -> None:
    """Write a liquidity index directly: no public operation sets it to a round value (accrue
    needs borrowers and time, a write-off an underwater liquidation), and these tests want
    exact numbers with no debt outstanding."""
    market._liquidity_index[market.assets.index(asset)] = value


def check_accounting(market: LendingMarket) -> None:
    """Conservation, the per-asset identity of the module doc, and escrow == book."""
    ledger = market.ledger
    ledger.check_conservation()
    for asset in market.assets:
        token = market.receipt_token(asset)
        claims = ledger.total_supply(token) * market.exchange_rate(asset)
        assets = market.cash(asset) + market.total_debt(asset)
        assert claims + market.interest_surplus[asset] == pytest.approx(assets, rel=1e-9, abs=1e-6)
        assert market.interest_surplus[asset] >= -1e-6
        column = market.collateral_scaled[:, market.assets.index(asset)].sum()
        assert ledger.balance_of(market.escrow, token) == pytest.approx(column, rel=1e-9, abs=1e-9)
    assert (market.collateral_scaled >= 0).all() and (market.debt_scaled >= 0).all()


def borrower(market, owner="bob", weth=10.0, usdc_debt=16_600.0):
    pid = market.open_position(owner)
    market.deposit_collateral(pid, "WETH", weth)
    if usdc_debt:
        market.borrow(pid, "USDC", usdc_debt)
    return pid


# -- suppliers -------------------------------------------------------------------------------
def test_supply_and_withdraw_mint_and_burn_scaled_receipt_tokens():
    ledger, _, market = make_world()
    assert market.receipt_token("USDC") == "aave:aUSDC"
    assert market.supply("lp", "USDC", 1_000.0) == 1_000.0  # index 1: scaled == amount
    set_liquidity_index(market, "USDC", 1.25)  # as if 250 of interest had been paid in
    ledger.mint("USDC", "aave", 250.0, by="bank")
    # 500 underlying at index 1.25 is 400 scaled; lp now owns 1400 scaled = 1750 underlying
    assert market.supply("lp", "USDC", 500.0) == 400.0
    assert market.balance_of("lp", "USDC") == 1_750.0
    assert market.withdraw("lp", "USDC", 250.0) == 200.0
    assert ledger.balance_of("lp", "aave:aUSDC") == 1_200.0
    assert ledger.balance_of("aave", "USDC") == 1_500.0
    assert ledger.balance_of("lp", "USDC") == 1_000_000.0 - 1_250.0
    ledger.check_conservation()


def test_withdrawing_a_whole_balance_tolerates_rounding():
    ledger, _, market = make_world()
    market.supply("lp", "USDC", 1_000.0)
    set_liquidity_index(market, "USDC", 0.7)  # as after a socialized loss
    whole = market.balance_of("lp", "USDC")  # 1000 * 0.7, and whole / 0.7 > 1000 by an ulp
    assert whole / 0.7 > 1_000.0
    assert market.withdraw("lp", "USDC", whole) == 1_000.0
    assert ledger.balance_of("lp", "aave:aUSDC") == 0.0


def test_receipt_tokens_are_composable():
    ledger, _, market = make_world()
    market.supply("lp", "USDC", 1_000.0)
    ledger.transfer("aave:aUSDC", "lp", "vault", 300.0)  # another protocol holds the claim
    set_liquidity_index(market, "USDC", 1.1)
    assert market.balance_of("vault", "USDC") == pytest.approx(330.0)
    assert market.exchange_rate("USDC") == 1.1
    market.withdraw("vault", "USDC", 330.0)
    assert ledger.balance_of("vault", "aave:aUSDC") == pytest.approx(0.0, abs=1e-12)


# -- positions -------------------------------------------------------------------------------
def test_position_borrow_repay_by_hand():
    ledger, _, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    pid = borrower(market)  # 10 WETH at 2100, 16600 USDC debt
    assert market.owner[pid] == "bob"
    assert market.collateral_of(pid).tolist() == [10.0, 0.0]
    assert market.debt_of(pid).tolist() == [0.0, 16_600.0]
    assert ledger.balance_of(market.escrow, "aave:aWETH") == 10.0
    assert ledger.balance_of("bob", "USDC") == 1_016_600.0
    # HF = 10 * 2100 * 0.83 / 16600 = 17430 / 16600 = 1.05
    assert market.health_factor_of(pid) == pytest.approx(1.05)
    assert market.health_factors() == pytest.approx([1.05])
    # borrowing power left: 10 * 2100 * 0.805 - 16600 = 16905 - 16600 = 305
    assert market.borrowing_power() == pytest.approx([305.0])
    assert market.utilization("USDC") == pytest.approx(0.166)  # 16600 / 100000
    assert market.repay(pid, "USDC", 600.0) == 600.0
    assert market.repay(pid, "USDC", 1e9, payer="carol") == 16_000.0  # capped at the debt
    assert market.debt_of(pid).tolist() == [0.0, 0.0]
    assert ledger.balance_of("carol", "USDC") == 1_000_000.0 - 16_000.0
    market.withdraw_collateral(pid, "WETH", 10.0)
    assert ledger.balance_of("bob", "WETH") == 1_000.0
    check_accounting(market)


def test_market_shortfall_applies_both_indices_and_ignores_the_oracles():
    _, oracles, market = make_world()  # oracle WETH 2100
    market.supply("lp", "USDC", 100_000.0)
    bob = borrower(market, "bob", weth=10.0, usdc_debt=16_600.0)
    carol = borrower(market, "carol", weth=10.0, usdc_debt=5_000.0)
    # Round indices written directly (see set_liquidity_index): collateral grows 10 %, debt
    # 25 %. Off-chain WETH at 1500:
    #   bob:   11 WETH * 1500 = 16500 against 16600 * 1.25 = 20750 -> shortfall 4250
    #   carol: 16500 against 5000 * 1.25 = 6250 -> solvent, 0
    # Without the indices bob's would be 16600 - 15000 = 1600: both indices count.
    set_liquidity_index(market, "WETH", 1.1)
    market._borrow_index[market.assets.index("USDC")] = 1.25
    prices = {"WETH": 1500.0, "USDC": 1.0}
    assert market_shortfall(market, prices) == pytest.approx(4250.0)
    # the per-position form on the market's underlying amounts agrees, row by row
    rows = [bob, carol]
    per_position = shortfalls([market.collateral_of(p) for p in rows],
                              [market.debt_of(p) for p in rows], [1500.0, 1.0])
    assert per_position == pytest.approx([4250.0, 0.0])
    # The market's oracle still says 2100 (bob's HF = 11 * 2100 * 0.83 / 20750 = 0.924): the
    # shortfall reads only the prices it is given, so a stale feed cannot hide it.
    oracles["WETH"].price = 1e6
    assert market_shortfall(market, prices) == pytest.approx(4250.0)
    # WETH back at 2100: 23100 > 20750, nobody is short
    assert market_shortfall(market, {"WETH": 2100.0, "USDC": 1.0}) == 0.0
    with pytest.raises(InvalidAmount, match="prices: no price for 'USDC'"):
        market_shortfall(market, {"WETH": 1500.0})
    with pytest.raises(InvalidAmount, match="prices"):
        market_shortfall(market, {"WETH": -1.0, "USDC": 1.0})


def test_snapshot_is_a_plain_copy_of_book_indices_and_risk_parameters():
    _, _, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    before = market.snapshot()
    borrower(market)  # 10 WETH collateral, 16600 USDC debt, both at index 1
    assert before["owner"] == [] and before["collateral_scaled"] == []
    assert market.snapshot() == before | {
        "collateral_scaled": [[10.0, 0.0]],
        "debt_scaled": [[0.0, 16_600.0]],
        "owner": ["bob"],
    }
    assert before["liquidity_index"] == before["borrow_index"] == {"WETH": 1.0, "USDC": 1.0}
    assert before["liquidation_threshold"]["WETH"] == 0.83 and before["ltv"]["WETH"] == 0.805


def test_withdraw_collateral_keeps_health_factor_at_least_one():
    # ValidationLogic.validateHFAndLtv: after withdrawing, HF >= 1 (not HF above LTV)
    _, _, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    pid = borrower(market)  # HF 1.05, LT value 17430, debt 16600
    # withdrawing 0.4 WETH leaves 9.6 * 2100 * 0.83 = 16732.8 >= 16600: allowed, though the
    # position is now above its LTV (9.6 * 2100 * 0.805 = 16228.8 < 16600)
    market.withdraw_collateral(pid, "WETH", 0.4)
    assert market.health_factor_of(pid) == pytest.approx(16_732.8 / 16_600)
    assert market.borrowing_power() == pytest.approx([0.0])
    before = snapshot(market)
    # another 0.1 WETH: 9.5 * 2100 * 0.83 = 16558.5 < 16600 -> refused
    with pytest.raises(InsufficientCollateral, match="health factor"):
        market.withdraw_collateral(pid, "WETH", 0.1)
    with pytest.raises(InsufficientCollateral, match="borrowing power"):
        market.borrow(pid, "USDC", 1.0)
    assert snapshot(market) == before


def test_open_positions_vectorized_matches_the_book_and_ledger():
    ledger, oracles, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    rng = np.random.default_rng(1)
    n = 40  # beyond the initial capacity of 16: the book grows
    owners = ["bob" if k % 3 else "carol" for k in range(n)]
    coll = np.column_stack([rng.uniform(0.1, 2.0, n), np.zeros(n)])
    debt = np.column_stack([np.zeros(n), coll[:, 0] * 2100 * 0.805 * rng.uniform(0, 1, n)])
    pids = market.open_positions(owners, coll, debt)
    assert pids.tolist() == list(range(n))
    assert market.owner.tolist() == owners
    bob = np.array([o == "bob" for o in owners])
    assert ledger.balance_of("bob", "WETH") == pytest.approx(1_000.0 - coll[bob, 0].sum())
    assert ledger.balance_of("carol", "USDC") == pytest.approx(1e6 + debt[~bob, 1].sum())
    assert market.total_debt("USDC") == pytest.approx(debt[:, 1].sum())
    expected = health_factor(coll, debt, [2100.0, 1.0], [0.83, 0.8])
    assert np.allclose(market.health_factors(), expected)
    oracles["WETH"].price = 1500.0
    expected = health_factor(coll, debt, [1500.0, 1.0], [0.83, 0.8])
    assert market.liquidatable().tolist() == np.flatnonzero(expected < 1).tolist()
    check_accounting(market)
    assert market.open_positions([], np.zeros((0, 2)), np.zeros((0, 2))).size == 0


@pytest.mark.parametrize(
    ("owners", "coll", "debt", "error", "word"),
    [
        (
            ["bob", "carol"],
            [[1.0, 0.0], [1.0, 0.0]],
            [[0.0, 1690.0], [0.0, 1691.0]],
            InsufficientCollateral,
            "row 1",
        ),  # 1 * 2100 * 0.805 = 1690.5
        (["bob"], [[1.0, 0.0]], [[0.0, -1.0]], InvalidAmount, "debt_amounts"),
        (["bob"], [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], InvalidAmount, "shape"),
        (["bob", ""], [[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]], LendingError, "owners"),
        (
            ["bob", "bob"],
            [[600.0, 0.0], [600.0, 0.0]],
            [[0.0, 1.0], [0.0, 1.0]],
            InsufficientBalance,
            "bob",
        ),  # 1200 WETH needed in all, bob holds 1000
        (["bob"], [[1.0, 0.0]], [[0.0, 200_000.0]], InsufficientCollateral, "row 0"),
        (["bob"], [[200.0, 0.0]], [[0.0, 200_000.0]], InsufficientLiquidity, "USDC"),
    ],
)
def test_open_positions_refusals_change_nothing(owners, coll, debt, error, word):
    _, _, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    before = snapshot(market)
    with pytest.raises(error, match=word):
        market.open_positions(owners, coll, debt)
    assert snapshot(market) == before


# -- refusals ----------------------------------------------------------------------------------
def drained_world():
    """lp supplied 1000 USDC; bob borrowed 700 of it: cash 300."""
    ledger, oracles, market = make_world()
    market.supply("lp", "USDC", 1_000.0)
    borrower(market, usdc_debt=700.0)
    return ledger, oracles, market


@pytest.mark.parametrize(
    ("operation", "error", "word"),
    [
        (lambda m: m.withdraw("lp", "USDC", 400.0), InsufficientLiquidity, "300"),
        (lambda m: m.borrow(0, "USDC", 301.0), InsufficientLiquidity, "cannot pay out"),
        (lambda m: m.withdraw("lp", "USDC", 1_000.5), InsufficientBalance, "lp"),
        (lambda m: m.withdraw("bob", "USDC", 1.0), InsufficientBalance, "bob"),
        (lambda m: m.borrow(0, "USDC", 0.0), InvalidAmount, "amount"),
        (lambda m: m.supply("lp", "USDC", -5.0), InvalidAmount, "amount"),
        (lambda m: m.supply("lp", "USDC", math.nan), InvalidAmount, "amount"),
        (lambda m: m.supply("nobody", "USDC", 5.0), InsufficientBalance, "nobody"),
        (lambda m: m.supply("lp", "DAI", 5.0), UnknownReserve, "DAI"),
        (lambda m: m.borrow(0, "DAI", 5.0), UnknownReserve, "DAI"),
        (lambda m: m.borrow(7, "USDC", 5.0), UnknownPosition, "7"),
        (lambda m: m.borrow(True, "USDC", 5.0), UnknownPosition, "True"),
        (lambda m: m.repay(0, "WETH", 1.0), NoDebt, "WETH"),
        (lambda m: m.repay(0, "USDC", 1.0, payer="nobody"), InsufficientBalance, "nobody"),
        (lambda m: m.withdraw_collateral(0, "WETH", 10.5), InsufficientBalance, "position 0"),
        (lambda m: m.withdraw_collateral(0, "USDC", 1.0), InsufficientBalance, "position 0"),
        (lambda m: m.liquidate("liq", 0, "WETH", "USDC", 100.0), NotLiquidatable, "not < 1"),
        (lambda m: m.open_position(""), LendingError, "owner"),
        (lambda m: m.accrue(-1.0), InvalidAmount, "dt_years"),
    ],
)
def test_refused_operations_name_the_cause_and_change_nothing(operation, error, word):
    _, _, market = drained_world()
    before = snapshot(market)
    with pytest.raises(error, match=word):
        operation(market)
    assert snapshot(market) == before


def test_caps_and_disabled_reserves_are_refused():
    usdc = dataclasses.replace(PARAMS["USDC"], supply_cap=1_500.0, borrow_cap=1_000.0)
    weth = dataclasses.replace(PARAMS["WETH"], borrowable=False)
    _, _, market = make_world({"WETH": weth, "USDC": usdc})
    market.supply("lp", "USDC", 1_000.0)
    pid = borrower(market, usdc_debt=900.0)
    before = snapshot(market)
    with pytest.raises(CapExceeded, match="supply cap of USDC"):
        market.supply("lp", "USDC", 600.0)  # 1000 + 600 > 1500
    with pytest.raises(CapExceeded, match="borrow cap of USDC"):
        market.borrow(pid, "USDC", 100.5)  # 900 + 100.5 > 1000
    with pytest.raises(ReserveDisabled, match="WETH"):
        market.borrow(pid, "WETH", 0.1)
    assert snapshot(market) == before
    no_collateral = dataclasses.replace(
        PARAMS["USDC"],
        ltv=0.0,
        liquidation_threshold=0.0,
        liquidation_bonus=0.0,
        usable_as_collateral=False,
    )
    _, _, market = make_world({"WETH": PARAMS["WETH"], "USDC": no_collateral})
    pid = market.open_position("bob")
    with pytest.raises(ReserveDisabled, match="USDC is not usable as collateral"):
        market.deposit_collateral(pid, "USDC", 10.0)
    market.supply("lp", "USDC", 10.0)  # a plain deposit is still fine


def test_bad_oracle_price_is_refused():
    _, oracles, market = drained_world()
    before = snapshot(market)
    oracles["WETH"].price = 0.0
    with pytest.raises(InvalidAmount, match="WETH"):
        market.health_factors()
    with pytest.raises(InvalidAmount, match="WETH"):
        market.borrow(0, "USDC", 1.0)
    assert snapshot(market) == before


def test_constructor_refusals():
    ledger, oracles, market = make_world()
    with pytest.raises(ConfigError, match="already exists"):
        LendingMarket(ledger, "aave", PARAMS, oracles)
    with pytest.raises(ConfigError, match="oracles"):
        LendingMarket(ledger, "spark", PARAMS, {"WETH": oracles["WETH"]})
    with pytest.raises(UnknownToken, match="DAI"):
        LendingMarket(ledger, "spark", {"DAI": PARAMS["USDC"]}, {"DAI": oracles["USDC"]})
    with pytest.raises(ConfigError, match="close_factor"):
        LendingMarket(ledger, "spark", PARAMS, oracles, close_factor=0.0)
    assert not ledger.has_token("spark:aWETH")


def test_pinned_utilization_blocks_suppliers():
    _, _, market = make_world()
    market.supply("lp", "USDC", 1_000.0)
    pid = borrower(market, usdc_debt=0.0)
    assert not market.is_pinned("USDC")
    market.borrow(pid, "USDC", 1_000.0)
    assert market.utilization("USDC") == 1.0 and market.is_pinned("USDC")
    with pytest.raises(InsufficientLiquidity):
        market.withdraw("lp", "USDC", 1.0)


# -- interest -----------------------------------------------------------------------------------
def test_one_accrual_step_by_hand():
    # USDC (U* 0.9, slope1 0.035, RF 0.10): 1000 supplied, 800 borrowed -> U = 0.8
    # borrow rate = 0.035 * 0.8 / 0.9 = 0.031111; supply rate = 0.031111 * 0.8 * 0.9 = 0.0224
    ledger, _, market = make_world()
    market.supply("lp", "USDC", 1_000.0)
    borrower(market, weth=2.0, usdc_debt=800.0)
    assert market.rates("USDC") == pytest.approx((0.035 * 0.8 / 0.9, 0.0224))
    market.accrue(1.0)  # one whole year in one step
    rate = 0.035 * 0.8 / 0.9
    n = 31_536_000
    growth = 1 + rate + rate**2 / 2 * (1 - 1 / n) + rate**3 / 6 * (1 - 1 / n) * (1 - 2 / n)
    assert market.borrow_index("USDC") == pytest.approx(growth, rel=1e-12)
    assert market.exchange_rate("USDC") == pytest.approx(1.0224, rel=1e-12)
    interest = 800 * (growth - 1)  # about 25.28
    # treasury: RF * interest, minted as receipt tokens at the NEW index
    treasury_scaled = ledger.balance_of("aave:treasury", "aave:aUSDC")
    assert treasury_scaled == pytest.approx(0.1 * interest / 1.0224, rel=1e-12)
    assert market.balance_of("lp", "USDC") == pytest.approx(1_022.4, rel=1e-12)
    # surplus = interest - supplier interest - treasury = 0.9 * 25.28 - 22.4 = 0.352
    assert market.interest_surplus["USDC"] == pytest.approx(0.9 * interest - 22.4, rel=1e-9)
    assert market.interest_surplus["USDC"] == pytest.approx(0.352, abs=1e-3)
    # WETH has no debt: neither index moves
    assert (market.exchange_rate("WETH"), market.borrow_index("WETH")) == (1.0, 1.0)
    check_accounting(market)


def test_a_year_of_hourly_accrual_against_closed_forms():
    flat = KinkedRate(base=0.05, slope1=0.0, slope2=0.0, optimal=0.9)  # 5 % at any U
    usdc = dataclasses.replace(PARAMS["USDC"], rate_model=flat)
    ledger, _, market = make_world({"WETH": PARAMS["WETH"], "USDC": usdc})
    market.supply("lp", "USDC", 1_000.0)
    borrower(market, weth=2.0, usdc_debt=800.0)
    dt = 1 / 8760
    expected_index, supply_exponent, treasury = 1.0, 0.0, 0.0
    for _ in range(8760):
        u, debt = market.utilization("USDC"), market.total_debt("USDC")
        market.accrue(dt)
        supply_rate = 0.05 * u * (1 - 0.1)
        expected_index *= 1 + supply_rate * dt  # linear per step, compounded across steps
        supply_exponent += supply_rate * dt
        treasury += 0.1 * (market.total_debt("USDC") - debt) / market.exchange_rate("USDC")
    # borrowers: 8760 Taylor steps ~ e^0.05 (the binomial's 1e-11 shortfall included)
    assert market.borrow_index("USDC") == pytest.approx(compounded_interest(0.05, dt) ** 8760)
    assert market.borrow_index("USDC") == pytest.approx(math.exp(0.05), rel=1e-9)
    # suppliers: prod(1 + r_k dt) with r_k following U, ~ exp(sum r_k dt)
    assert market.exchange_rate("USDC") == pytest.approx(expected_index, rel=1e-12)
    assert market.exchange_rate("USDC") == pytest.approx(math.exp(supply_exponent), rel=1e-6)
    assert ledger.balance_of("aave:treasury", "aave:aUSDC") == pytest.approx(treasury, rel=1e-9)
    assert market.total_debt("USDC") == pytest.approx(800 * math.exp(0.05), rel=1e-9)
    check_accounting(market)


# -- liquidation ----------------------------------------------------------------------------------
def liquidation_world(weth_price):
    """lp supplies 100000 USDC; bob: 10 WETH at 2100, borrows 16600 USDC (HF 1.05); then
    WETH falls to `weth_price`."""
    ledger, oracles, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    pid = borrower(market)
    oracles["WETH"].price = weth_price
    return ledger, market, pid


def test_liquidation_hf_097_uses_close_factor_half():
    # WETH 1940: HF = 10 * 1940 * 0.83 / 16600 = 16102 / 16600 = 0.97 > 0.95 -> close factor 0.5
    ledger, market, pid = liquidation_world(1_940.0)
    assert market.health_factor_of(pid) == pytest.approx(0.97)
    assert market.liquidatable().tolist() == [pid]
    result = market.liquidate("liq", pid, "WETH", "USDC", 16_600.0)
    # repaid = 16600 * 0.5 = 8300; seized = 8300 / 1940 * 1.05 = 8715 / 1940 = 4.4922680 WETH
    # protocol fee = 10 % of the bonus part: (8715 - 8300) / 1940 * 0.1 = 41.5 / 1940 WETH
    assert result.health_factor == pytest.approx(0.97)
    assert result.debt_repaid == pytest.approx(8_300.0)
    assert result.collateral_seized == pytest.approx(8_715 / 1_940)
    assert result.protocol_fee == pytest.approx(41.5 / 1_940)
    assert result.liquidator_collateral == pytest.approx(8_673.5 / 1_940)
    assert result.bad_debt == {}
    assert ledger.balance_of("liq", "WETH") == pytest.approx(1_000 + 8_673.5 / 1_940)
    assert ledger.balance_of("liq", "USDC") == pytest.approx(1_000_000 - 8_300)
    assert ledger.balance_of("aave:treasury", "aave:aWETH") == pytest.approx(41.5 / 1_940)
    assert market.collateral_of(pid)[0] == pytest.approx(10_685 / 1_940)
    assert market.debt_of(pid)[1] == pytest.approx(8_300.0)
    # HF after = (10 - 8715/1940) * 1940 * 0.83 / 8300 = 10685 * 0.83 / 8300 = 1.0685
    assert market.health_factor_of(pid) == pytest.approx(1.0685)
    check_accounting(market)


def test_liquidation_hf_090_uses_close_factor_one():
    # WETH 1800: HF = 10 * 1800 * 0.83 / 16600 = 0.90 <= 0.95 -> close factor 1
    ledger, market, pid = liquidation_world(1_800.0)
    result = market.liquidate("liq", pid, "WETH", "USDC", 1e9)
    # repaid 16600; seized = 16600 * 1.05 / 1800 = 9.683333; fee = 830 / 1800 * 0.1 = 0.046111
    assert result.debt_repaid == pytest.approx(16_600.0)
    assert result.collateral_seized == pytest.approx(17_430 / 1_800)
    assert result.protocol_fee == pytest.approx(83 / 1_800)
    assert market.collateral_of(pid)[0] == pytest.approx(10 - 17_430 / 1_800)  # 0.316667 left
    assert market.debt_of(pid).tolist() == [0.0, 0.0]
    assert market.health_factor_of(pid) == math.inf
    check_accounting(market)


def test_quote_liquidation_is_what_liquidate_does_and_changes_nothing():
    # WETH 1940: HF 0.97, close factor 0.5 (as above): repay 8300 USDC for 8715/1940 WETH,
    # of which 41.5/1940 is the protocol fee; a cover of 1000 USDC seizes 1050/1940 WETH.
    _, market, pid = liquidation_world(1_940.0)
    before = snapshot(market), market.version
    quote = market.quote_liquidation(pid, "WETH", "USDC")  # the most the close factor allows
    partial = market.quote_liquidation(pid, "WETH", "USDC", 1_000.0)
    assert (snapshot(market), market.version) == before
    assert quote.pid == pid and quote.health_factor == pytest.approx(0.97)
    assert (quote.debt_to_cover, quote.debt_repaid) == (pytest.approx(8_300.0),) * 2
    assert quote.collateral_seized == pytest.approx(8_715 / 1_940)
    assert quote.protocol_fee == pytest.approx(41.5 / 1_940)
    assert quote.liquidator_collateral == pytest.approx(8_673.5 / 1_940)
    assert (quote.collateral_balance, quote.debt) == (pytest.approx(10.0), pytest.approx(16_600.0))
    assert (partial.debt_to_cover, partial.debt_repaid) == (1_000.0, 1_000.0)
    assert partial.collateral_seized == pytest.approx(1_050 / 1_940)
    result = market.liquidate("liq", pid, "WETH", "USDC", quote.debt_to_cover)
    assert (result.debt_repaid, result.collateral_seized, result.protocol_fee) == (
        quote.debt_repaid, quote.collateral_seized, quote.protocol_fee)  # exactly the same
    with pytest.raises(NotLiquidatable, match="not < 1"):  # HF 1.0685 now, as liquidate says
        market.quote_liquidation(pid, "WETH", "USDC")
    with pytest.raises(InvalidAmount, match="debt_to_cover"):
        market.quote_liquidation(pid, "WETH", "USDC", -1.0)


def test_version_grows_with_the_book_indices_and_parameters_only():
    """What a health factor depends on besides the oracle prices: a reader that kept the
    version knows whether anything of it changed."""
    _, oracles, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    market.supply("lp", "WETH", 100.0)
    pid = borrower(market)  # 10 WETH at 2100, 16600 USDC debt, HF 1.05
    changes = [
        lambda: market.open_position("carol"),
        lambda: market.open_positions(["carol"], [[1.0, 0.0]], [[0.0, 100.0]]),
        lambda: market.deposit_collateral(pid, "WETH", 1.0),
        lambda: market.withdraw_collateral(pid, "WETH", 1.0),
        lambda: market.borrow(pid, "USDC", 10.0),
        lambda: market.repay(pid, "USDC", 10.0),
        lambda: market.accrue(1 / 8760),
        lambda: market.configure_reserve("WETH", liquidation_threshold=0.82),
        lambda: (setattr(oracles["WETH"], "price", 1_800.0),
                 market.liquidate("liq", pid, "WETH", "USDC", 1e9)),
    ]
    for change in changes:
        version = market.version
        change()
        assert market.version > version
    version = market.version
    market.supply("carol", "USDC", 1_000.0)  # suppliers move no health factor
    market.withdraw("carol", "USDC", 500.0)
    market.health_factors(), market.snapshot(), market.liquidatable()
    assert market.version == version


def test_close_factor_threshold_is_inclusive():
    # LiquidationLogic._calculateDebt: healthFactor > 0.95 ? 50 % : 100 %, so HF == threshold -> 100 %
    _, market, pid = liquidation_world(1_900.0)
    market.close_factor_hf_threshold = market.health_factor_of(pid)
    result = market.liquidate("liq", pid, "WETH", "USDC", 1e9)
    assert result.debt_repaid == pytest.approx(16_600.0)


def test_bad_debt_is_written_off_and_socialized():
    # WETH 1500: HF = 0.75, close factor 1. Wanted collateral 16600 * 1.05 / 1500 = 11.62 > 10,
    # so all 10 WETH go and only 10 * 1500 / 1.05 = 100000/7 = 14285.714 USDC is repaid.
    ledger, market, pid = liquidation_world(1_500.0)
    ledger.transfer("aave:aUSDC", "lp", "vault", 40_000.0)  # another protocol holds 40 %
    result = market.liquidate("liq", pid, "WETH", "USDC", 1e9)
    assert result.collateral_seized == 10.0
    assert result.debt_repaid == pytest.approx(100_000 / 7)
    assert result.protocol_fee == pytest.approx((10 - 10 / 1.05) * 0.1)
    # no collateral left: 16600 - 100000/7 = 16200/7 = 2314.29 USDC of bad debt
    assert result.bad_debt == {"USDC": pytest.approx(16_200 / 7)}
    assert market.bad_debt == {"WETH": 0.0, "USDC": pytest.approx(16_200 / 7)}
    assert market.debt_of(pid).tolist() == [0.0, 0.0]
    assert market.collateral_of(pid).tolist() == [0.0, 0.0]
    # claims were 100000 = cash 85685.71 + debt 14314.29... after: index cut by 2314.29/100000
    assert market.exchange_rate("USDC") == pytest.approx(1 - 16_200 / 7 / 100_000)
    assert market.balance_of("vault", "USDC") == pytest.approx(40_000 * (1 - 0.16200 / 7))
    assert market.total_supplied("USDC") == pytest.approx(market.cash("USDC"))
    check_accounting(market)


def test_liquidation_needs_cash_unless_receipt_tokens_are_taken():
    ledger, oracles, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    pid = borrower(market)
    carol = market.open_position("carol")
    market.deposit_collateral(carol, "USDC", 50_000.0)
    market.borrow(carol, "WETH", 8.0)  # WETH cash now 10 - 8 = 2
    oracles["WETH"].price = 1_800.0
    before = snapshot(market)
    with pytest.raises(InsufficientLiquidity, match="WETH"):
        market.liquidate("liq", pid, "WETH", "USDC", 1e9)
    with pytest.raises(InsufficientBalance, match="nobody"):
        market.liquidate("nobody", pid, "WETH", "USDC", 1e9, receive_a_token=True)
    with pytest.raises(NotLiquidatable, match="no USDC collateral"):
        market.liquidate("liq", pid, "USDC", "USDC", 1e9)
    with pytest.raises(NotLiquidatable, match="owes no WETH"):
        market.liquidate("liq", pid, "WETH", "WETH", 1e9)
    assert snapshot(market) == before
    result = market.liquidate("liq", pid, "WETH", "USDC", 1e9, receive_a_token=True)
    assert ledger.balance_of("liq", "aave:aWETH") == pytest.approx(result.liquidator_collateral)
    assert ledger.balance_of("liq", "WETH") == 1_000.0
    check_accounting(market)


def test_configure_reserve_reaches_open_positions_at_once():
    """A governance change (PoolConfigurator) lowers health factors of existing positions."""
    _, _, market = make_world()
    market.supply("lp", "USDC", 100_000.0)
    pid = borrower(market)  # 10 WETH at 2100, 16600 USDC debt, HF 1.05 at LT 0.83
    before = snapshot(market)
    market.configure_reserve("WETH", ltv=0.7, liquidation_threshold=0.75)
    # HF = 10 * 2100 * 0.75 / 16600 = 15750 / 16600 = 0.948795...: now liquidatable
    assert market.health_factor_of(pid) == pytest.approx(15_750 / 16_600)
    assert market.liquidatable().tolist() == [pid]
    # borrowing power: 10 * 2100 * 0.7 - 16600 < 0, so none left
    assert market.borrowing_power().tolist() == [0.0]
    assert market.reserves["WETH"].liquidation_threshold == 0.75
    assert snapshot(market) == before  # balances and book untouched: only the rules changed


@pytest.mark.parametrize("changes,word", [
    ({"ltv": 0.9}, "ltv: must be <= liquidation_threshold"),
    ({"liquidation_threshold": 0.99}, "liquidation_bonus"),
    ({"colour": 1}, "colour: not a reserve parameter"),
])
def test_configure_reserve_refuses_impossible_parameters_and_changes_nothing(changes, word):
    _, _, market = make_world()
    params = market.reserves["WETH"]
    with pytest.raises(ConfigError, match=word):
        market.configure_reserve("WETH", **changes)
    assert market.reserves["WETH"] is params
    assert market.snapshot()["liquidation_threshold"]["WETH"] == 0.83
