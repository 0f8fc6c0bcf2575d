"""Sweep files: valid ones resolve against their base; invalid ones name the field."""

import warnings

import pytest

from experiments.sweepfile import SobolSampleWarning, load_sweep
from protocols.errors import ConfigError
from tests.experiments.conftest import AMM, AMM_SWEEP


def test_valid_sweep_resolves_base_overrides_and_nested_axes(write):
    path = write("s.toml", f"""
base = "{AMM}"
design = "lhs"
samples = 8
[overrides]
steps = 48
[axes.assets.ETH]
sigma = {{ low = 0.2, high = 2.0, log = true }}
[axes]
"agents.arbitrageurs.count" = {{ low = 1, high = 4, integer = true }}
""")
    sweep = load_sweep(path)
    assert sweep.name == "s" and sweep.base["steps"] == 48 and sweep.base["name"] == "amm_arbitrage"
    assert [a.path for a in sweep.axes] == ["assets.ETH.sigma", "agents.arbitrageurs.count"]
    sigma, count = sweep.axes
    # log range: the midpoint of the unit interval is the geometric mean sqrt(0.2 * 2.0)
    assert sigma.from_unit(0.5) == pytest.approx(0.6324555320336759)
    assert count.from_unit(0.0) == 1 and count.from_unit(0.7) == 3  # 1 + 0.7 * 3 = 3.1


def test_base_is_relative_to_the_sweep_file(tmp_path):
    sweep = load_sweep("experiments/sweeps/smoke.toml")
    assert sweep.base_path.name == "baseline.toml" and sweep.base["steps"] == 72
    assert len(sweep.axes) == 2 and sweep.replicates == 3


BAD = [
    # (replace this, with this) in AMM_SWEEP -> the error names this field
    ('name = "tiny"', 'name = "tiny"\nrepeats = 3', "repeats: unknown field"),
    ("replicates = 2", "replicates = 0", "replicates: Input should be greater than or equal to 1"),
    ("replicates = 2", 'replicates = 2\ndesign = "factorial"', "design: Input should be"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"assets[ETH].sigma" = [0.5, -1.0]',
     "axes.assets[ETH].sigma = -1.0: 1 problem:\n    assets[0].sigma: must be >= 0.0, got -1.0"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"assets[BTC].sigma" = [0.5]',
     "assets[BTC].sigma: no list item 'BTC' at assets.BTC"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"treasury.polcy.target_vol" = [0.2]',
     "treasury.polcy: unknown field"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"assets[ETH].sigma" = []',
     "axes.assets[ETH].sigma: needs at least one value"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"assets[ETH].sigma" = [0.5, 0.5]',
     "axes.assets[ETH].sigma: a value is listed twice"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"assets[ETH].sigma" = 0.5',
     "axes.assets[ETH].sigma: must be a list of values (grid) or a range"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', '"assets[ETH].sigma" = { low = 0.1, high = 0.9 }',
     "axes.assets[ETH].sigma: a grid design needs a list of values"),
    ('"assets[ETH].sigma" = [0.5, 1.0]', "seed = [1, 2]", "axes.seed: seeds are set by the sweep"),
    ("steps = 48", "steps = 48\nseed = 3", "overrides.seed: set `seed` at the top"),
    ("steps = 48", "steps = -5", "steps: must be >= 1, got -5"),
    (f'base = "{AMM}"', 'base = "nowhere.toml"', "base: "),
    (f'base = "{AMM}"', "", "base: is required"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_invalid_grid_sweeps_name_the_field(write, old, new, message):
    assert old in AMM_SWEEP
    path = write("bad.toml", AMM_SWEEP.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    text = str(info.value)
    assert text.startswith(str(path)) and message in text, text
    assert "Traceback" not in text


RANGES = [
    ('design = "lhs"', "{ low = 0.5, high = 0.2 }", "axes.x.y: needs finite low < high"),
    ('design = "lhs"', "{ low = 0.0, high = 1.0, log = true }", "axes.x.y.low: a log range needs low > 0"),
    ('design = "lhs"', "{ low = 0.1, hi = 1.0 }", "axes.x.y.hi: unknown field"),
    ('design = "lhs"', "[0.1, 0.2]", "axes.x.y: a lhs design needs a range"),
    ('design = "sobol"\nsamples = 12', "{ low = 0.1, high = 1.0 }", "samples: a sobol design needs a power of 2"),
    ('design = "grid"\nsamples = 8', "[0.1]", "samples: only lhs and sobol designs take samples"),
]


@pytest.mark.parametrize(("head", "axis", "message"), RANGES)
def test_invalid_designs_name_the_field(write, head, axis, message):
    samples = "" if "samples" in head or "grid" in head else "samples = 8"
    path = write("bad.toml", f'base = "{AMM}"\n{head}\n{samples}\n[axes.x]\ny = {axis}\n')
    with pytest.raises(ConfigError, match="problem") as info:
        load_sweep(path)
    assert message in str(info.value), str(info.value)


def test_missing_and_malformed_files(write):
    with pytest.raises(ConfigError, match="sweep file not found"):
        load_sweep("no/such/sweep.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_sweep(write("x.toml", "axes = [unclosed"))
    with pytest.raises(ConfigError, match="axes: needs at least one axis"):
        load_sweep(write("y.toml", f'base = "{AMM}"\n[axes]\n'))


def test_every_shipped_sweep_and_proposal_is_valid():
    from experiments.compare import load_arms
    from experiments.sweep import plan

    root = AMM.parents[1]  # experiments/
    with warnings.catch_warnings():
        warnings.simplefilter("error", SobolSampleWarning)  # shipped designs are big enough
        sizes = {p.stem: len(plan(load_sweep(p))) for p in (root / "sweeps").glob("*.toml")}
    assert sizes["smoke"] <= 20 and {"smoke", "gov_exposure"} <= set(sizes)
    for proposal in (root / "proposals").glob("*.toml"):
        (_, base), (name, prop) = load_arms(root / "scenarios" / "baseline.toml", proposal)
        assert base != prop and name != "baseline"
