"""Seeds: one root, common random numbers across points, stable and re-runnable."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments import seeds
from experiments.sweep import plan
from experiments.sweepfile import parse_sweep
from tests.experiments.conftest import AMM_SWEEP


def test_replicate_seed_is_the_root_seedsequence_child():
    # Hand-derivation: replicate 3 of root 42 is the first 32-bit word of the child
    # SeedSequence(42, spawn_key=(0, 3)) - the same child root.spawn() would make under
    # branch 0 - so any numpy user can recompute it.
    expected = np.random.SeedSequence(42, spawn_key=(0, 3)).generate_state(1, np.uint32)[0]
    assert seeds.run_seed(42, 3) == int(expected)


@given(root=st.integers(0, 2**63), rep=st.integers(0, 10_000), point=st.integers(0, 10_000))
def test_seeds_are_deterministic_32_bit_and_crn_ignores_the_point(root, rep, point):
    s = seeds.run_seed(root, rep)
    assert s == seeds.run_seed(root, rep) and 0 <= s < 2**32
    assert seeds.run_seed(root, rep, point) == seeds.run_seed(root, rep, point)


def test_replicates_and_roots_get_distinct_seeds():
    by_rep = {seeds.run_seed(7, k) for k in range(1000)}
    assert len(by_rep) == 1000
    assert seeds.run_seed(7, 0) != seeds.run_seed(8, 0)
    assert seeds.run_seed(7, 0, point=0) != seeds.run_seed(7, 0, point=1)


def test_negative_inputs_are_refused():
    with pytest.raises(ValueError, match="seeds"):
        seeds.run_seed(-1, 0)


def test_plan_gives_replicate_k_the_same_seed_at_every_point(write):
    sweep = parse_sweep_text(write, AMM_SWEEP)
    tasks = plan(sweep)
    assert len(tasks) == 4 * 2 and len({t.key for t in tasks}) == 8
    by_rep: dict[int, set[int]] = {}
    for t in tasks:
        by_rep.setdefault(t.replicate, set()).add(t.seed)
    assert by_rep == {0: {seeds.run_seed(11, 0)}, 1: {seeds.run_seed(11, 1)}}


def test_without_crn_each_point_gets_its_own_seeds(write):
    sweep = parse_sweep_text(write, AMM_SWEEP.replace('replicates = 2',
                                                      'replicates = 2\ncommon_random_numbers = false'))
    assert len({t.seed for t in plan(sweep)}) == 8


def parse_sweep_text(write, text):
    import tomllib

    path = write("sweep.toml", text)
    return parse_sweep(tomllib.loads(text), source=path)
