"""Build order of composed protocols: dependencies first, cycles named, scenario order kept."""

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from sim.composition import build_order, find_cycle, token_issuer

NO_POOL = SimpleNamespace(oracle=SimpleNamespace(pool=None))


def market(name: str, accepts: list[str]) -> SimpleNamespace:
    """A lending spec accepting the USDC receipt of every market in `accepts`."""
    reserves = {"USDC": NO_POOL, **{f"{other}:aUSDC": NO_POOL for other in accepts}}
    return SimpleNamespace(name=name, kind="aave", reserves=reserves)


@given(st.data(), st.integers(1, 7))
def test_build_order_puts_every_issuer_first_and_keeps_scenario_order(data, n):
    names = [f"m{i}" for i in range(n)]
    # Random DAG: market i may accept receipts of markets listed after it (so the scenario
    # order is not already a valid build order).
    accepts = {i: data.draw(st.lists(st.sampled_from(names[i + 1:]), unique=True))
               if i + 1 < n else [] for i in range(n)}
    specs = [market(names[i], accepts[i]) for i in range(n)]
    order = build_order(specs)
    assert sorted(order) == sorted(names)
    for i in range(n):
        for other in accepts[i]:
            assert order.index(other) < order.index(names[i])
    assert find_cycle(specs) is None
    # Without dependencies the order is the scenario's.
    assert build_order([market(name, []) for name in names]) == names


@given(st.integers(2, 6))
def test_a_ring_of_markets_is_a_cycle(n):
    names = [f"m{i}" for i in range(n)]
    specs = [market(names[i], [names[(i + 1) % n]]) for i in range(n)]
    cycle = find_cycle(specs)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == set(names)


def test_token_issuer_names_the_problem():
    specs = {"a": market("a", []), "p": SimpleNamespace(name="p", kind="uniswap_v2"),
             "v": SimpleNamespace(name="v", kind="option_vault")}
    assert token_issuer("a:aUSDC", specs) == ("a", "")
    assert token_issuer("p:LP", specs) == ("p", "")
    assert "issues receipt tokens ['a:aUSDC']" in token_issuer("a:aDAI", specs)[1]
    assert "no fungible token" in token_issuer("v:shares", specs)[1]
    assert "neither an asset" in token_issuer("zz:aUSDC", specs)[1]
