"""The lock-and-mint bridge: crossings complete exactly `delay_steps` later, the backing is
locked / outstanding wrapped, redemptions after an exploit pay pro-rata, and every token is
conserved through lock, mint, burn, release and the exploit."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import names
from protocols.bridge import Bridge, BridgePaused
from protocols.errors import ConfigError
from protocols.ledger import Ledger


def setup(delay: int = 3) -> tuple[Ledger, Bridge]:
    ledger = Ledger()
    ledger.create_token("ETH", issuer=names.issuer("ETH"))
    ledger.mint("ETH", "alice", 100.0, by=names.issuer("ETH"))
    ledger.mint("ETH", "bob", 50.0, by=names.issuer("ETH"))
    return ledger, Bridge(ledger, "nomad", "ETH", "madWETH", delay_steps=delay)


def drain_lock(ledger: Ledger, bridge: Bridge, fraction: float) -> None:
    """What `sim.shocks` does to a bridge: the exploiter takes `fraction` of the lock."""
    ledger.transfer("ETH", bridge.locked, names.EXPLOITER, bridge.locked_amount * fraction)
    bridge.exploited()


def test_a_lock_mints_exactly_delay_steps_later():
    ledger, bridge = setup(delay=3)
    bridge.lock("alice", 10.0, step=5)
    assert ledger.balance_of("alice", "ETH") == 90.0  # the canonical leaves at once
    assert ledger.balance_of(bridge.transit, "ETH") == 10.0
    for step in (5, 6, 7):
        assert bridge.process(step) == []
        assert ledger.balance_of("alice", "madWETH") == 0.0
    done = bridge.process(8)
    assert [(t.holder, t.direction, delivered) for t, delivered in done] == [
        ("alice", "mint", 10.0)]
    assert ledger.balance_of("alice", "madWETH") == 10.0
    assert bridge.locked_amount == 10.0 and ledger.balance_of(bridge.transit, "ETH") == 0.0
    assert bridge.backing == 1.0


def test_a_burn_releases_exactly_delay_steps_later():
    ledger, bridge = setup(delay=2)
    bridge.lock("alice", 10.0, step=0)
    bridge.process(2)
    bridge.burn("alice", 4.0, step=10)
    assert ledger.balance_of("alice", "madWETH") == 6.0
    assert bridge.process(11) == []
    assert ledger.balance_of("alice", "ETH") == 90.0
    bridge.process(12)
    assert ledger.balance_of("alice", "ETH") == 94.0
    assert ledger.total_supply("madWETH") == 6.0 and bridge.locked_amount == 6.0


def test_zero_delay_completes_in_the_same_step():
    ledger, bridge = setup(delay=0)
    bridge.lock("bob", 5.0, step=4)
    bridge.process(4)
    assert ledger.balance_of("bob", "madWETH") == 5.0


def test_an_exploit_of_half_the_lock_halves_the_backing_and_the_wrapped_price():
    ledger, bridge = setup(delay=1)
    bridge.lock("alice", 40.0, step=0)
    bridge.lock("bob", 10.0, step=0)
    bridge.process(1)
    assert bridge.fundamental_price(2000.0) == 2000.0
    drain_lock(ledger, bridge, 0.5)
    assert bridge.backing == pytest.approx(0.5)  # 25 ETH locked / 50 madWETH
    assert bridge.fundamental_price(2000.0) == pytest.approx(1000.0)
    assert ledger.balance_of(names.EXPLOITER, "ETH") == pytest.approx(25.0)


def test_a_redemption_after_the_exploit_pays_pro_rata_and_keeps_the_backing():
    ledger, bridge = setup(delay=1)
    bridge.halt_on_exploit = False  # a bridge that keeps redeeming (Nomad did not)
    bridge.lock("alice", 40.0, step=0)
    bridge.process(1)
    drain_lock(ledger, bridge, 0.5)  # 20 ETH back 40 madWETH
    bridge.burn("alice", 10.0, step=2)
    assert bridge.backing == pytest.approx(0.5)  # a burn in flight is still owed its share
    bridge.process(3)
    assert ledger.balance_of("alice", "ETH") == pytest.approx(60.0 + 5.0)  # 10 x 0.5
    assert bridge.locked_amount == pytest.approx(15.0)
    assert bridge.backing == pytest.approx(0.5)  # 15 / 30: the next redeemer is not worse off


def test_an_exploit_pauses_a_halting_bridge_and_crossings_in_flight_still_complete():
    ledger, bridge = setup(delay=2)
    bridge.lock("alice", 10.0, step=0)
    drain_lock(ledger, bridge, 0.3)  # the lock is empty: nothing to drain yet
    with pytest.raises(BridgePaused, match="nomad: paused"):
        bridge.lock("bob", 1.0, step=1)
    with pytest.raises(BridgePaused):
        bridge.burn("alice", 1.0, step=1)
    bridge.process(2)
    assert ledger.balance_of("alice", "madWETH") == 10.0


def test_mint_backed_brings_wrapped_supply_in_at_the_current_backing():
    ledger, bridge = setup(delay=0)
    bridge.lock("alice", 20.0, step=0)
    bridge.process(0)
    drain_lock(ledger, bridge, 0.75)  # 5 ETH back 20 madWETH
    issued = ledger.total_supply("ETH")
    bridge.mint_backed("carol", 8.0)
    assert ledger.balance_of("carol", "madWETH") == 8.0
    assert ledger.total_supply("ETH") == pytest.approx(issued + 2.0)  # 8 x 0.25, into the lock
    assert bridge.backing == pytest.approx(0.25)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"delay_steps": -1}, "delay_steps: must be an integer >= 0"),
    ({"canonical": "XYZ"}, "canonical: unknown asset 'XYZ'"),
    ({"wrapped": "ETH"}, "wrapped: 'ETH' already exists"),
])
def test_bad_bridge_arguments_are_named(kwargs, message):
    ledger = Ledger()
    ledger.create_token("ETH", issuer=names.issuer("ETH"))
    args = {"canonical": "ETH", "wrapped": "madWETH", "delay_steps": 1, **kwargs}
    with pytest.raises(ConfigError, match=message):
        Bridge(ledger, "nomad", args["canonical"], args["wrapped"], args["delay_steps"])


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.tuples(st.sampled_from(["lock", "burn", "exploit", "mint_backed"]),
                           st.sampled_from(["alice", "bob"]),
                           st.floats(0.01, 0.9)), max_size=25),
    delay=st.integers(0, 3),
)
def test_every_token_is_conserved_through_crossings_and_exploits(ops, delay):
    ledger, bridge = setup(delay=delay)
    bridge.halt_on_exploit = False
    eth_supply = ledger.total_supply("ETH")
    minted = 0.0
    for step, (op, holder, share) in enumerate(ops):
        if op == "lock" and ledger.balance_of(holder, "ETH") > 0:
            bridge.lock(holder, ledger.balance_of(holder, "ETH") * share, step)
        elif op == "burn" and ledger.balance_of(holder, "madWETH") > 0:
            bridge.burn(holder, ledger.balance_of(holder, "madWETH") * share, step)
        elif op == "exploit":
            drain_lock(ledger, bridge, share)
        elif op == "mint_backed":
            before = ledger.total_supply("ETH")
            bridge.mint_backed(holder, 10 * share)
            minted += ledger.total_supply("ETH") - before
        bridge.process(step)
        ledger.check_conservation()
        assert ledger.total_supply("ETH") == pytest.approx(eth_supply + minted)
        assert 0.0 <= bridge.backing <= 1.0 + 1e-9
    bridge.process(len(ops) + delay)
    assert not bridge.pending
    # everything minted is held by someone or in flight; nothing in flight is left
    assert ledger.balance_of(bridge.transit, "ETH") == pytest.approx(0.0, abs=1e-9)
    assert ledger.balance_of(bridge.transit, "madWETH") == pytest.approx(0.0, abs=1e-9)
