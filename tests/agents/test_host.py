"""The fake host (`tests.conftest.FakeHost`) and the simulator's model both offer everything
`agents.host.Host` declares, so an agent tested on the fake runs on the model, and the fake
cannot drift from what the model offers.

`Host` is not runtime-checkable, and `isinstance` on a runtime-checkable Protocol would only
check that the names exist; so the names are read from the Protocol class itself (its
annotated attributes and its methods) and each is checked on a built instance of both hosts:
attributes by their declared type, methods by their parameters. A name added to the protocol is
then checked here without editing this test.
"""

import inspect
import typing
from pathlib import Path

import pytest

from agents.host import Host
from sim.assembly import build_world
from sim.model import TreasuryModel
from sim.scenario import load_scenario, parse_scenario
from tests.conftest import FakeHost

#: a small shipped scenario (one pool, one arbitrageur): quick to build
SCENARIO = Path(__file__).resolve().parents[2] / "experiments/scenarios/amm_arbitrage.toml"

#: the declared attributes, name -> type (host.py's annotations are strings: resolve them)
ATTRIBUTES = typing.get_type_hints(Host)
#: the declared methods (Protocol adds only dunders of its own)
METHODS = {
    name: member
    for name, member in vars(Host).items()
    if inspect.isfunction(member) and not name.startswith("_")
}


def fake_host():
    scenario = parse_scenario({"assets": [{"symbol": "WETH", "price": 2000.0}]})
    return FakeHost(build_world(scenario, [2000.0], []), seed=1)


def treasury_model():
    return TreasuryModel(load_scenario(SCENARIO))


HOSTS = pytest.mark.parametrize(
    "make", [fake_host, treasury_model], ids=["FakeHost", "TreasuryModel"]
)


def parameters(function, skip_self=False):
    """(name, kind) of each parameter: annotations are left out, since the hosts may spell
    the same type differently."""
    params = list(inspect.signature(function).parameters.values())
    return [(p.name, p.kind) for p in params[1 if skip_self else 0 :]]


def test_the_protocol_is_read_whole():
    # Guards the reading above: were it to find nothing, the checks below would pass vacuously.
    assert ATTRIBUTES and METHODS
    assert set(ATTRIBUTES).isdisjoint(METHODS)


@HOSTS
def test_every_declared_attribute_exists_with_its_type(make):
    host = make()
    for name, kind in ATTRIBUTES.items():
        assert isinstance(getattr(host, name, None), kind), name


@HOSTS
def test_every_declared_method_exists_with_its_parameters(make):
    host = make()
    for name, declared in METHODS.items():
        method = getattr(host, name, None)
        assert callable(method), name
        assert parameters(method) == parameters(declared, skip_self=True), name
