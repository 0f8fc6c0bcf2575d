import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DaosimError, InvalidAmount
from protocols.offchain import OffchainMarket
from protocols.oracle import Oracle, TwapSource


def run(oracle: Oracle, source: OffchainMarket, prices: list[float]) -> list[bool]:
    """Feed prices[t] at step t; return which steps created a round."""
    created = []
    for step, price in enumerate(prices):
        source.set(price)
        created.append(oracle.update(step))
    return created


# -- sources ---------------------------------------------------------------------------------
def test_reference_source_reads_what_was_set_and_rejects_bad_prices():
    src = OffchainMarket(100.0)
    src.set(101.5)
    assert src.read() == 101.5
    for bad in (0.0, -1.0, math.nan, math.inf, "1", True):
        with pytest.raises(InvalidAmount, match="price"):
            src.set(bad)
        assert src.read() == 101.5
    with pytest.raises(InvalidAmount, match="price"):
        OffchainMarket(0.0)


def test_twap_of_known_sequence_is_mean_of_last_window_samples():
    spots = iter([1.0, 2.0, 3.0, 4.0, 10.0])
    current = {"p": 0.0}
    twap = TwapSource(lambda: current["p"], window=3)
    reads = []
    for step in range(5):
        current["p"] = next(spots)
        twap.observe(step)
        reads.append(twap.read())
    # fewer than 3 samples: mean of what there is -> 1, (1+2)/2; then full windows:
    # (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+10)/3 = 17/3
    assert reads == pytest.approx([1.0, 1.5, 2.0, 3.0, 17 / 3], rel=1e-15)


def test_geometric_twap_is_mean_of_log_prices():
    current = {"p": 1.0}
    twap = TwapSource(lambda: current["p"], window=2, geometric=True)
    twap.observe(0)
    current["p"] = 4.0
    twap.observe(1)
    assert twap.read() == pytest.approx(2.0, rel=1e-15)  # sqrt(1 * 4)


def test_twap_lags_a_one_step_manipulation():
    current = {"p": 100.0}
    twap = TwapSource(lambda: current["p"], window=10)
    for step in range(10):
        twap.observe(step)
    current["p"] = 200.0  # attacker doubles the pool price for one step
    twap.observe(10)
    # window holds nine 100s and one 200: (9*100 + 200)/10 = 110, a 10 % move, not 100 %
    assert twap.read() == pytest.approx(110.0, rel=1e-15)
    current["p"] = 100.0  # attacker unwinds
    twap.observe(11)
    assert twap.read() == pytest.approx(110.0, rel=1e-15)


def test_twap_samples_once_per_step_and_rejects_going_back():
    current = {"p": 100.0}
    twap = TwapSource(lambda: current["p"], window=5)
    twap.observe(0)
    current["p"] = 1_000.0  # intra-step manipulation after the step's sample
    twap.observe(0)
    assert twap.read() == 100.0
    twap.observe(3)
    with pytest.raises(InvalidAmount, match="step"):
        twap.observe(2)
    assert twap.read() == pytest.approx(550.0)  # (100 + 1000) / 2


def test_twap_rejects_bad_arguments_and_bad_spot():
    with pytest.raises(InvalidAmount, match="window"):
        TwapSource(lambda: 1.0, window=0)
    with pytest.raises(InvalidAmount, match="spot"):
        TwapSource(1.0, window=3)  # type: ignore[arg-type]
    twap = TwapSource(lambda: 0.0, window=3)
    with pytest.raises(DaosimError, match="no observation"):
        twap.read()
    with pytest.raises(InvalidAmount, match="spot price"):
        twap.observe(0)
    with pytest.raises(DaosimError, match="no observation"):
        twap.read()


# -- oracle trigger rules -------------------------------------------------------------------
def test_first_update_creates_a_round():
    src = OffchainMarket(2_000.0)
    oracle = Oracle("ETH", src)
    with pytest.raises(DaosimError, match="no round visible"):
        _ = oracle.price
    assert oracle.last_update_step is None
    assert oracle.update(5) is True
    assert oracle.price == 2_000.0
    assert oracle.last_update_step == 5
    assert oracle.age(7) == 2


@pytest.mark.parametrize(
    ("move", "fires"),
    [(100.49, False), (100.5, False), (100.51, True), (99.51, False), (99.5, False), (99.49, True)],
)
def test_deviation_threshold_is_exact(move, fires):
    # last round 100, threshold 0.5 %: a 0.49 % move stays, a 0.51 % move (either way) reports;
    # exactly 0.5 % (0.5/100 == 0.005 in floats) stays: libocr `deviates` is a strict >
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=1_000, deviation=0.005)
    assert run(oracle, src, [100.0, move]) == [True, fires]
    assert oracle.price == (move if fires else 100.0)


def test_deviation_is_measured_against_the_last_round_not_the_last_raw_price():
    # creeping 0.3 % per step: 100 -> 100.3 (0.3 %) -> 100.6009 (0.6009 % from 100) fires
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=1_000, deviation=0.005)
    assert run(oracle, src, [100.0, 100.3, 100.3 * 1.003]) == [True, False, True]


def test_heartbeat_fires_on_a_flat_price():
    src = OffchainMarket(1.0)
    oracle = Oracle("USDC", src, heartbeat=24)
    created = run(oracle, src, [1.0] * 60)
    assert [t for t, c in enumerate(created) if c] == [0, 24, 48]
    assert oracle.last_update_step == 48


def test_deviation_round_resets_the_heartbeat():
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=10, deviation=0.01)
    prices = [100.0] * 5 + [103.0] * 20  # jump at step 5 -> next heartbeat at 15, then 25
    created = run(oracle, src, prices)
    assert [t for t, c in enumerate(created) if c] == [0, 5, 15]


@pytest.mark.parametrize("latency", [1, 3])
def test_latency_delays_visibility_by_exactly_n_steps(latency):
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=1_000, latency=latency)
    oracle.update(0)
    for step in range(1, latency):
        oracle.update(step)
        with pytest.raises(DaosimError):
            _ = oracle.price
    oracle.update(latency)
    assert oracle.price == 100.0
    assert oracle.last_update_step == latency  # updatedAt = landing step
    src.set(120.0)
    assert oracle.update(10) is True  # round created at 10 ...
    for step in range(11, 10 + latency):
        oracle.update(step)
        assert oracle.price == 100.0  # ... still in flight
    oracle.update(10 + latency)
    assert oracle.price == 120.0
    assert oracle.age(10 + latency) == 0


def test_in_flight_round_is_not_re_reported_every_step():
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=1_000, latency=3)
    src.set(100.0)
    assert [oracle.update(t) for t in range(4)] == [True, False, False, False]


def test_freeze_keeps_the_stale_price_and_unfreeze_catches_up():
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=24, deviation=0.005)
    oracle.update(0)
    oracle.freeze()
    assert oracle.frozen
    src.set(50.0)  # crash during the outage
    assert [oracle.update(t) for t in range(1, 40)] == [False] * 39  # heartbeat ignored too
    assert oracle.price == 100.0
    assert oracle.age(39) == 39
    oracle.unfreeze()
    assert oracle.update(40) is True
    assert oracle.price == 50.0


def test_in_flight_round_lands_during_a_freeze():
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, latency=2)
    oracle.update(0)
    oracle.freeze()
    oracle.update(1)
    oracle.update(2)
    assert oracle.price == 100.0


def test_twap_backed_oracle_observes_once_per_step():
    spot = {"p": 100.0}
    twap = TwapSource(lambda: spot["p"], window=4)
    oracle = Oracle("ETH", twap, heartbeat=1_000, deviation=0.01)
    for step in range(4):
        oracle.update(step)
    spot["p"] = 140.0
    oracle.update(4)  # TWAP (3*100 + 140)/4 = 110: 10 % > 1 % -> round
    oracle.update(4)  # same step again: no second sample
    assert oracle.price == pytest.approx(110.0)
    oracle.update(5)  # (2*100 + 2*140)/4 = 120
    assert oracle.price == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"heartbeat": 0}, "heartbeat"),
        ({"heartbeat": 1.5}, "heartbeat"),
        ({"heartbeat": True}, "heartbeat"),
        ({"latency": -1}, "latency"),
        ({"deviation": 1.0}, "deviation"),
        ({"deviation": -0.01}, "deviation"),
        ({"deviation": math.nan}, "deviation"),
    ],
)
def test_bad_oracle_arguments_name_the_argument(kwargs, name):
    with pytest.raises(InvalidAmount, match=name):
        Oracle("ETH", OffchainMarket(1.0), **kwargs)


def test_bad_asset_source_and_step_are_rejected_without_changes():
    with pytest.raises(InvalidAmount, match="asset"):
        Oracle("", OffchainMarket(1.0))
    with pytest.raises(InvalidAmount, match="source"):
        Oracle("ETH", 1.0)  # type: ignore[arg-type]
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src)
    oracle.update(10)
    src.set(200.0)
    for bad in (9, -1, 10.0):
        with pytest.raises(InvalidAmount, match="step"):
            oracle.update(bad)
    assert oracle.price == 100.0
    assert oracle.last_update_step == 10


# -- properties ------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(
    moves=st.lists(st.floats(-0.03, 0.03), min_size=1, max_size=80),
    heartbeat=st.integers(1, 12),
    deviation=st.sampled_from([0.0, 0.001, 0.005, 0.02]),
    latency=st.integers(0, 4),
)
def test_visible_price_is_bounded_in_age_and_deviation(moves, heartbeat, deviation, latency):
    """Unfrozen feed: the answer visible at t is the raw price of step t - latency within
    `deviation`, and it landed less than `heartbeat` steps ago (Chainlink's two guarantees)."""
    prices = [100.0]
    for m in moves:
        prices.append(prices[-1] * (1.0 + m))
    src = OffchainMarket(prices[0])
    oracle = Oracle("ETH", src, heartbeat=heartbeat, deviation=deviation, latency=latency)
    for step, price in enumerate(prices):
        src.set(price)
        oracle.update(step)
        if step < latency:
            with pytest.raises(DaosimError):
                _ = oracle.price
            continue
        assert abs(prices[step - latency] - oracle.price) / oracle.price <= deviation
        assert 0 <= oracle.age(step) < heartbeat
        assert oracle.price in prices[: step - latency + 1]


def test_a_primed_feed_with_latency_is_readable_from_its_first_step():
    # The run's history before step 0 is taken as flat: the round the feed would have
    # published before the run (created at 0 - latency = -3) is visible at once. A 10 % move
    # at step 1 creates a round (deviation > 1 %) that lands latency = 3 steps later, at 4;
    # the heartbeat of 10 counts from the last created round, so step 11 reports again.
    src = OffchainMarket(100.0)
    oracle = Oracle("ETH", src, heartbeat=10, deviation=0.01, latency=3)
    oracle.prime(0)
    assert oracle.price == 100.0 and oracle.age(0) == 3
    src.set(90.0)
    created = [oracle.update(t) for t in range(1, 4)]
    assert created == [True, False, False] and oracle.price == 100.0  # in flight
    oracle.update(4)
    assert oracle.price == 90.0 and oracle.last_update_step == 4
    assert [oracle.update(t) for t in range(5, 12)] == [False] * 6 + [True]
