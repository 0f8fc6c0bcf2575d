"""Distress rules: hysteresis and minimum duration (CauseTracker, fed figures by hand and by
hypothesis), and `tvl_drop` as invariant liquidity gone - a price move is no drop."""

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.liquidity_provider import LiquidityProvider
from sim.distress import CauseTracker, Reading, above, below
from sim.shocks import drain
from tests.sim.contagion_worlds import pair, release_models, run  # noqa: F401

ENTER, RATIO = 1.0, 0.5


def feed(tracker: CauseTracker, figures: list[float], node: str = "n", start: int = 0):
    """Feed one cause's figures, one per step from `start`; the transitions as tuples."""
    out = []
    for step, value in enumerate(figures, start):
        for c in tracker.update(step, {node: [above("x", value, ENTER, RATIO)]}):
            out.append((step, c.kind, c.since, c.cause))
    return out


def test_a_flicker_shorter_than_min_steps_logs_nothing():
    # above the enter threshold for 2 steps, then back below the leave threshold (0.5)
    assert feed(CauseTracker(3), [0.0, 1.2, 1.5, 0.4, 0.0, 1.1, 0.3, 0.0]) == []
    # the same flicker is logged when one step is enough
    assert feed(CauseTracker(1), [0.0, 1.2, 1.5, 0.4, 0.0])[:2] == [
        (1, "distress", 1, "x"), (3, "recovered", 3, "x")]


def test_a_cause_held_min_steps_is_logged_once_with_the_step_it_first_held():
    tracker = CauseTracker(3)
    # enters at step 2; 0.7 and 0.6 are between leave (0.5) and enter (1): it still holds
    changes = feed(tracker, [0.0, 0.9, 1.3, 0.7, 0.6, 1.4, 2.0, 0.8])
    assert changes == [(4, "distress", 2, "x")]
    assert tracker.first_distress == {"n": 2}


def test_recovery_needs_every_figure_inside_the_leave_threshold_for_min_steps():
    tracker = CauseTracker(3)
    figures = [0.0, 1.5, 1.5, 1.5,  # logged at step 3, since 1
               0.9, 0.4, 0.4, 0.6,  # 0.9 is below enter but not leave; 0.6 breaks the run
               0.4, 0.49, 0.0,      # three steps under 0.5 from step 8: recovered at 10
               1.2, 0.2]            # a new flicker afterwards: nothing
    assert feed(tracker, figures) == [(3, "distress", 1, "x"), (10, "recovered", 8, "x")]


def test_recovery_waits_for_every_cause():
    tracker = CauseTracker(2)
    steps = [(0.0, 0.0), (1.5, 0.0), (1.5, 2.0), (0.0, 2.0), (0.0, 0.7), (0.0, 0.1), (0.0, 0.1)]
    log = []
    for step, (a, b) in enumerate(steps):
        found = {"n": [above("a", a, ENTER, RATIO), above("b", b, ENTER, RATIO)]}
        log += [(step, c.kind, c.since, c.cause) for c in tracker.update(step, found)]
    # b joins while distressed; a clears at 3 but b (0.7) is not inside 0.5 until step 5
    assert log == [(2, "distress", 1, "a"), (6, "recovered", 5, "a,b")]


def test_a_latched_cause_never_recovers_but_an_unconfirmed_one_clears():
    tracker = CauseTracker(2)
    bad = [0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0]  # a 1-step spike, then 2 steps
    log = []
    for step, value in enumerate(bad):
        r = above("bad_debt", value, ENTER, RATIO, latch=True)
        log += [(step, c.kind, c.since) for c in tracker.update(step, {"m": [r]})]
    assert log == [(5, "distress", 4)]
    assert tracker.distressed() == {"m": ("bad_debt",)}


def test_a_floor_enters_below_it_and_leaves_above_floor_over_ratio():
    tracker = CauseTracker(1)
    log = []
    for step, months in enumerate([15.0, 11.0, 13.0, 23.0, 25.0]):
        found = {"t": [below("runway", months, 12.0, RATIO)]}
        log += [(step, c.kind) for c in tracker.update(step, found)]
    assert log == [(1, "distress"), (4, "recovered")]  # leave threshold: 12 / 0.5 = 24


def test_causes_holding_at_the_first_step_are_logged_there():
    # the configured world stood before the run: nothing earlier to wait on
    assert feed(CauseTracker(3), [1.5, 1.5, 0.0], start=0) == [(0, "distress", 0, "x")]


def test_the_pinned_duration_applies_when_longer_than_min_steps():
    tracker = CauseTracker(2)
    log = []
    for step, pinned in enumerate([False] + [True] * 6):
        r = Reading("utilization_pinned:USDC", 0.0, pinned, not pinned, steps=4)
        log += [(step, c.kind, c.since) for c in tracker.update(step, {"m": [r]})]
    assert log == [(4, "distress", 1)]


@settings(max_examples=150, deadline=None)
@given(
    min_steps=st.integers(1, 5),
    figures=st.lists(st.tuples(st.floats(0, 2), st.floats(0, 2)), min_size=1, max_size=60),
)
def test_transitions_alternate_and_every_distress_held_min_steps(min_steps, figures):
    tracker = CauseTracker(min_steps)
    series = [(0.0, 0.0)] + figures  # step 0 calm: the first-step rule does not apply
    log = []
    for step, (a, b) in enumerate(series):
        found = {"n": [above("a", a, ENTER, RATIO), above("b", b, ENTER, RATIO)]}
        log += [(step, c) for c in tracker.update(step, found)]
    kinds = [c.kind for _, c in log]
    assert kinds == ["distress", "recovered"] * (len(kinds) // 2) + ["distress"] * (len(kinds) % 2)
    column = {"a": [f[0] for f in series], "b": [f[1] for f in series]}
    for step, c in log:
        assert c.since <= step
        if c.kind == "distress":
            # some cause passed enter at `since` and never fell inside leave until logged
            assert step - c.since + 1 >= min_steps
            assert any(column[x][c.since] > ENTER
                       and min(column[x][c.since:step + 1]) >= RATIO * ENTER
                       for x in c.cause.split(","))
        else:
            assert step - c.since + 1 == min_steps
            assert max(max(column[x][c.since:step + 1]) for x in "ab") < RATIO * ENTER
    if not log:  # never logged: no cause held min_steps (a Schmitt trigger, by hand)
        for values in column.values():
            run_length = 0
            for v in values:
                run_length = (run_length + 1 if v > ENTER or (run_length and v >= RATIO * ENTER)
                              else 0)
                assert run_length < min_steps


# -- tvl_drop: liquidity gone, not a price move -------------------------------------------
def with_v3(shocks: list[dict]) -> dict:
    raw = copy.deepcopy(pair())
    raw["protocols"].append({"kind": "uniswap_v3", "name": "eth-usdc-v3",
                             "tokens": ["ETH", "USDC"], "tvl_usd": 20e6})
    raw["shocks"] = shocks
    return raw


def tvl_drops(model) -> dict[str, float]:
    return {node: r.value for node, readings in model.distress.measure().items()
            for r in readings if r.cause == "tvl_drop"}


def test_a_price_move_is_no_tvl_drop_though_it_was_impermanent_loss():
    model = run(with_v3([{"kind": "crash", "step": 2, "asset": "ETH", "size": 0.3}]), steps=0)
    world = model.world
    start = {name: pool.reserves() for name, pool in world.pools.items()}
    for _ in range(4):
        model.step()
    drops = tvl_drops(model)
    # the old figure: TVL against the starting reserves at today's prices
    old = {name: 1.0 - world.pool_tvl_usd(name)
           / math.fsum(r * world.usd(t) for t, r in start[name].items()) for name in start}
    # v2: impermanent loss at a 0.7 price ratio, 1 - 2 sqrt(0.7) / 1.7 = 1.57 %, less fees
    assert old["eth-usdc"] == pytest.approx(1 - 2 * math.sqrt(0.7) / 1.7, abs=5e-4)
    assert old["eth-usdc-v3"] > 0.1  # concentrated ranges lose more: 13 %
    # arbitrage swaps keep sqrt(k) and the positions' L; fees only add to k
    assert -1e-3 < drops["eth-usdc"] <= 0.0
    assert drops["eth-usdc-v3"] == pytest.approx(0.0, abs=1e-12)
    assert drops["usdc-dai"] == pytest.approx(0.0, abs=1e-12)


def test_a_60_percent_withdrawal_is_a_drop_of_60_percent_in_every_pool():
    model = run(with_v3([]), steps=0)
    for lp in model.agents_by_type[LiquidityProvider]:
        for pool in model.world.pools:
            lp.withdraw_share(pool, 0.6)
    drops = tvl_drops(model)
    assert drops == pytest.approx({"eth-usdc": 0.6, "usdc-dai": 0.6, "eth-usdc-v3": 0.6},
                                  abs=1e-9)


def test_a_one_sided_drain_drops_what_the_invariant_loses():
    model = run(with_v3([]), steps=0)
    world = model.world
    x, y = world.pools["eth-usdc"].reserves().values()
    drain(world, "eth-usdc", 0.4, ["ETH"])
    drain(world, "eth-usdc-v3", 0.4, ["ETH"])
    drops = tvl_drops(model)
    # v2: sqrt(0.6 x * y) / sqrt(x * y) = sqrt(0.6): a drop of 22.5 %
    assert drops["eth-usdc"] == pytest.approx(1 - math.sqrt(0.6 * x * y) / math.sqrt(x * y))
    assert drops["eth-usdc"] == pytest.approx(0.225403, abs=1e-6)
    # v3: L and the price stay, but the pool holds 60 % of the ETH its positions are owed
    assert drops["eth-usdc-v3"] == pytest.approx(0.4)
    assert drops["usdc-dai"] == 0.0
