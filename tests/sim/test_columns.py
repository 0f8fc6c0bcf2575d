"""Time-series column names: what the model writes is what the readers parse back."""

import pytest

from sim import columns
from tests.sim.contagion_worlds import pair, release_models, run  # noqa: F401


@pytest.mark.parametrize(("name", "parsed"), [
    (columns.price("ETH"), ("price", "ETH", None)),
    (columns.pool_price("eth-usdc"), ("pool_price", "eth-usdc", None)),
    (columns.oracle("aave", "ETH"), ("oracle", "aave", "ETH")),
    # a composed reserve's asset holds a colon of its own: only the first two split
    (columns.oracle("aave-b", "aave-a:aUSDC"), ("oracle", "aave-b", "aave-a:aUSDC")),
    (columns.utilization("aave", "USDC"), ("utilization", "aave", "USDC")),
    (columns.bad_debt("aave", "univ2:LP"), ("bad_debt", "aave", "univ2:LP")),
    (columns.bad_debt_usd("aave"), ("bad_debt_usd", "aave", None)),
    (columns.shortfall_usd("aave"), ("shortfall_usd", "aave", None)),
    (columns.vault_share_usd("eth-cc"), ("vault_share_usd", "eth-cc", None)),
])
def test_every_column_name_parses_back_to_its_parts(name, parsed):
    assert tuple(columns.parse(name))[1:] == parsed
    assert columns.parse(name).name == name


def test_per_step_columns_have_no_subject():
    for name in (columns.GAS_GWEI, columns.TREASURY_NAV, columns.RUNWAY_MONTHS):
        assert columns.parse(name) is None


def test_a_run_writes_one_column_of_each_kind_per_thing_and_readers_find_them():
    model = run(pair(), steps=2)
    names = list(model.timeseries().columns)
    world = model.world
    assert [c.subject for c in columns.of_kind(names, columns.PRICE)] == list(world.assets)
    assert [c.subject for c in columns.of_kind(names, columns.BAD_DEBT_USD)] == list(world.markets)
    assert [c.subject for c in columns.of_kind(names, columns.SHORTFALL_USD)] == list(world.markets)
    oracles = [(c.subject, c.asset) for c in columns.of_kind(names, columns.ORACLE)]
    assert oracles == [(m, a) for m, feeds in world.oracles.items() for a in feeds]
