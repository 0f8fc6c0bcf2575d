"""Managed concentrated liquidity (`agents.ranges`) on a hand-built two-token pool at price 1
(tick 0), both tokens $1: the re-centred range's ticks, the swap's fee and impact against
the whitepaper's single-range formulas, gas from gwei x units x ETH price, the rule firing
exactly at its k-th step or past its band, every token conserved, the HODL basis carried
across a re-centring, and impermanent loss against the closed form."""

import math
from pathlib import Path

import pytest

from agents import event_kinds
from agents.ranges import RangeKeeper, RecentreRule, recentred_ticks
from cli.main import main
from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.v3_math import impermanent_loss_v3, sqrt_price_to_tick, tick_to_sqrt_price
from protocols.errors import InvalidAmount
from protocols.ledger import Ledger
from protocols.offchain import OffchainMarket
from protocols.world import World
from sim.gas import GWEI
from tests.conftest import FakeHost

ROOT = Path(__file__).resolve().parents[2]

FEE = 0.003
WHALE_L = 1e6  # the other LP's liquidity on [-6000, 6000]: the swap's depth
KEEPER_L = 1e4
#: gas: 30 gwei x 700,000 units x $2,000 per ETH = 30e-9 x 7e5 x 2e3 = $42
GWEI_PRICE, ETH_USD, UNITS = 30.0, 2000.0, 700_000


class GasHost(FakeHost):
    """The fake host with sim.model's gas formula at a fixed gwei and ETH price."""

    def gas_cost_usd(self, gas_units: float) -> float:
        return GWEI_PRICE * GWEI * gas_units * ETH_USD


def world_with(*positions):
    """AAA/USDC pool at price 1 holding (owner, lower, upper, liquidity) positions."""
    ledger = Ledger()
    for token in ("AAA", "USDC"):
        ledger.create_token(token, issuer=names.issuer(token))
    world = World(ledger, ("AAA", "USDC"), {"AAA": OffchainMarket(1.0),
                                            "USDC": OffchainMarket(1.0)})
    pool = ConcentratedLiquidityPool(ledger, "pool", "AAA", "USDC", fee=FEE, tick_spacing=60)
    world.pools["pool"] = pool
    for owner, lower, upper, liquidity in positions:
        world.fund(owner, "AAA", 1e9)
        world.fund(owner, "USDC", 1e9)
        pool.mint(owner, lower, upper, liquidity)
    return world, pool


def keeper_on(world, pool, rule, units=UNITS):
    host = GasHost(world, seed=3)
    return host, RangeKeeper(host, pool, "keeper", rule, units)


def move(world, pool, sell, amount):
    """A trader moves the pool; the reference prices follow it (no mispricing)."""
    world.fund("trader", sell, amount)
    pool.swap_exact_in("trader", sell, "USDC" if sell == "AAA" else "AAA", amount)
    price = pool.sqrt_price**2
    world.set_prices([price, 1.0])


def test_recentred_ticks_by_hand():
    # span 600, tick 0, spacing 60: lower = (0 - 300) // 60 * 60 = -300, upper = 300
    assert recentred_ticks(0, (-1200, -600), 60) == (-300, 300)
    # price 1500: tick = floor(ln 1500 / ln 1.0001) = floor(7.313220 / 9.99950e-5) = 73135;
    # span 2040: (73135 - 1020) // 60 = 1201 (72115 / 60 = 1201.9), lower 72060, upper 74100
    tick = sqrt_price_to_tick(math.sqrt(1500.0))
    assert tick == 73135
    assert recentred_ticks(tick, (74940, 76980), 60) == (72060, 74100)
    # a negative tick floors away from zero: (-73135 - 1020) // 60 = -1236 (-1235.9)
    assert recentred_ticks(-73135, (0, 2040), 60) == (-74160, -72120)


def test_a_recentring_costs_the_fee_and_impact_of_the_swap_and_the_gas_by_hand():
    world, pool = world_with(("whale", -6000, 6000, WHALE_L), ("keeper", -1200, -600, KEEPER_L))
    host, keeper = keeper_on(world, pool, RecentreRule(after=1))
    # below the price: all USDC, L (sqrt(1.0001^-600) - sqrt(1.0001^-1200))
    usdc = KEEPER_L * (tick_to_sqrt_price(-600) - tick_to_sqrt_price(-1200))
    il_before = keeper.il_usd()[0]
    (done,) = keeper.step()
    assert (done.old_ticks, done.new_ticks, done.reason) == ((-1200, -600), (-300, 300),
                                                            "out_of_range")
    assert done.gas_usd == pytest.approx(42.0, rel=1e-12)
    # the swap sells USDC for AAA through the whale's liquidity alone (the keeper's is
    # burned): sqrt P' = 1 + sold (1 - fee) / L, out = L (1 - 1 / sqrt P') (whitepaper
    # 6.13-6.16); its cost at the marginal price 1 before it is sold - out, of which the fee
    # is fee x sold and the rest is price impact
    sold = done.swap_in
    after = 1.0 + sold * (1 - FEE) / WHALE_L
    out = WHALE_L * (1.0 - 1.0 / after)
    assert done.swap_out == pytest.approx(out, rel=1e-9)
    assert done.swap_cost_usd == pytest.approx(sold - out, rel=1e-6)
    assert done.swap_cost_usd - FEE * sold == pytest.approx(sold * (1 - FEE) - out, rel=1e-6)
    assert pool.sqrt_price == pytest.approx(after, rel=1e-12)
    # the swap leaves the split the new range needs: about half of the USDC (less gas) sold
    assert 0.45 * (usdc - 42) < sold < 0.55 * (usdc - 42)
    (event,) = [e for e in host.events if e["kind"] == event_kinds.RECENTRE]
    assert event["tick_lower"] == -300 and event["tick_upper"] == 300
    assert event["gas_usd"] == done.gas_usd and event["swap_cost_usd"] == done.swap_cost_usd
    # the wallet keeps (almost) nothing: the mint used what the swap left
    assert world.ledger.balance_of("keeper", "USDC") - (1e9 - usdc) < 1e-9 * usdc
    # the basis is carried: the loss grows by the costs, reference prices = pool price at 1
    assert keeper.il_usd()[0] == pytest.approx(il_before - 42.0 - done.swap_cost_usd,
                                               abs=1e-6 * usdc)


def test_every_token_is_conserved_across_a_recentring():
    world, pool = world_with(("whale", -6000, 6000, WHALE_L), ("keeper", 600, 1800, KEEPER_L))
    ledger = world.ledger
    holders = ("whale", "keeper", "pool", names.GAS_SINK)
    before = {t: (ledger.total_supply(t), math.fsum(ledger.balance_of(h, t) for h in holders))
              for t in pool.tokens}
    _, keeper = keeper_on(world, pool, RecentreRule(after=1))
    (done,) = keeper.step()
    assert done.new_ticks == (-600, 600)  # above the price: all AAA, sold for USDC
    assert done.swap_in > 0 and done.gas_usd == pytest.approx(42.0)
    for token, (supply, held) in before.items():
        assert ledger.total_supply(token) == supply
        assert math.fsum(ledger.balance_of(h, token) for h in holders) == pytest.approx(
            held, rel=1e-15)
    ledger.check_conservation()
    assert ledger.balance_of(names.GAS_SINK, "AAA") == pytest.approx(42.0)  # $1 AAA


def test_k_steps_out_of_range_trigger_exactly_at_step_k():
    world, pool = world_with(("whale", -6000, 6000, WHALE_L), ("keeper", -600, 600, KEEPER_L))
    _, keeper = keeper_on(world, pool, RecentreRule(after=3))
    move(world, pool, "AAA", 40_000.0)  # the price falls below tick -600
    assert pool.tick < -600
    assert keeper.step() == [] and keeper.step() == []  # steps 1 and 2 out of range
    move(world, pool, "USDC", 40_000.0)  # back in range: the count starts again
    assert -600 <= pool.tick < 600 and keeper.step() == []
    move(world, pool, "AAA", 40_000.0)
    assert keeper.step() == [] and keeper.step() == []
    (done,) = keeper.step()  # the third consecutive step
    assert done.reason == "out_of_range" and done.old_ticks == (-600, 600)
    assert keeper.step() == []  # the new range holds the price


@pytest.mark.parametrize("side", ["AAA", "USDC"])
def test_the_band_triggers_past_its_share_of_the_half_width_only(side):
    world, pool = world_with(("whale", -6000, 6000, WHALE_L), ("keeper", -600, 600, KEEPER_L))
    move(world, pool, side, 10_000.0)
    offset = abs(pool.tick)  # centre 0, half-width 600
    assert 0 < offset < 600
    _, near = keeper_on(world, pool, RecentreRule(band=(offset + 1) / 600))
    assert near.step() == []
    _, far = keeper_on(world, pool, RecentreRule(band=(offset - 1) / 600))
    (done,) = far.step()
    assert done.reason == "band"


def test_the_rule_off_does_nothing():
    world, pool = world_with(("keeper", -600, 600, KEEPER_L), ("whale", -6000, 6000, WHALE_L))
    move(world, pool, "AAA", 40_000.0)
    host, keeper = keeper_on(world, pool, RecentreRule())
    assert [keeper.step() for _ in range(5)] == [[]] * 5 and host.events == []


def test_impermanent_loss_matches_the_closed_form_and_fees_are_the_difference():
    world, pool = world_with(("keeper", -600, 600, KEEPER_L))
    _, keeper = keeper_on(world, pool, RecentreRule())
    assert keeper.il_usd() == (0.0, 0.0)
    move(world, pool, "AAA", 50.0)
    s, price = pool.sqrt_price, pool.sqrt_price**2
    sa, sb = tick_to_sqrt_price(-600), tick_to_sqrt_price(600)
    # whitepaper 6.29-6.30: x = L (sb - s) / (s sb), y = L (s - sa); held: the same at s = 1
    lp = KEEPER_L * ((sb - s) / (s * sb) * price + (s - sa))
    hodl = KEEPER_L * ((sb - 1) / sb * price + (1 - sa))
    il, il_ex_fees = keeper.il_usd()
    assert il_ex_fees == pytest.approx(lp - hodl, rel=1e-9)
    assert il_ex_fees == pytest.approx(hodl * impermanent_loss_v3(1.0, s, sa, sb), rel=1e-9)
    assert il_ex_fees < 0
    # the only liquidity earns the whole fee: 0.3 % of the 50 AAA sold, at AAA's price now
    assert il - il_ex_fees == pytest.approx(FEE * 50.0 * price, rel=1e-9)


def test_a_partial_burn_scales_the_basis():
    world, pool = world_with(("keeper", -600, 600, KEEPER_L))
    _, keeper = keeper_on(world, pool, RecentreRule())
    move(world, pool, "AAA", 50.0)
    il, il_ex = keeper.il_usd()
    (pid,) = pool.positions_of("keeper")
    pool.burn(pid, 0.25 * KEEPER_L)
    pool.collect(pid)  # collect pays every fee owed (UniswapV3Pool), not only the quarter's
    assert il > il_ex  # fees earned
    assert keeper.il_usd() == pytest.approx((0.75 * il_ex, 0.75 * il_ex), rel=1e-9)


@pytest.mark.parametrize("fields, message", [
    ({"after": -1}, "recentre_after: must be an integer >= 0, got -1"),
    ({"after": 1.5}, "recentre_after: must be an integer >= 0, got 1.5"),
    ({"band": -0.5}, "recentre_band"),
])
def test_a_bad_rule_is_refused_naming_the_field(fields, message):
    with pytest.raises(InvalidAmount, match=message):
        RecentreRule(**fields)


@pytest.mark.parametrize("override, line", [
    ("agents.liquidity_providers.recentre_after=-1",
     "agents.liquidity_providers.recentre_after: must be >= 0, got -1"),
    ("agents.liquidity_providers.recentre_band=-0.5",
     "agents.liquidity_providers.recentre_band: must be >= 0.0, got -0.5"),
    ("treasury.policy.v3_recentre_after=1.5",
     "treasury.policy.v3_recentre_after: must be an integer, got 1.5"),
    ("treasury.policy.v3_recentre_band=true",
     "treasury.policy.v3_recentre_band: must be a number, got True"),
])
def test_bad_recentre_config_is_refused_naming_the_field(capsys, override, line):
    baseline = str(ROOT / "experiments" / "scenarios" / "baseline.toml")
    assert main(["check", baseline, "--set", override]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"daosim: {baseline}: 1 problem:", f"  {line}"]


def test_a_position_worth_less_than_the_gas_pays_it_all_and_mints_nothing():
    world, pool = world_with(("whale", -6000, 6000, WHALE_L), ("keeper", -1200, -600, 1.0))
    host, keeper = keeper_on(world, pool, RecentreRule(after=1))
    usdc = tick_to_sqrt_price(-600) - tick_to_sqrt_price(-1200)  # L = 1: ~$0.03 < $42 gas
    (done,) = keeper.step()
    assert done.new_position is None and done.gas_usd == pytest.approx(usdc, rel=1e-12)
    assert world.ledger.balance_of(names.GAS_SINK, "USDC") == pytest.approx(usdc, rel=1e-12)
    assert pool.positions_of("keeper") == [] and keeper.il_usd() == (0.0, 0.0)
