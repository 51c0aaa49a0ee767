"""The grid that shuffles near-equal items between epochs (samplers._base.coarsen) gives the same
values on every machine: they must not depend on the last bits of a CPU's log and exp, which differ
between numpy's SIMD implementations and decided batches."""
import numpy as np
import pytest

from hullpack.samplers._base import coarsen


def costs(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    return np.concatenate([[0.0, 1.0, 7.0], rng.integers(1, 500, n // 2), rng.lognormal(4, 2, n // 2)])


@pytest.mark.parametrize("granularity", [0.01, 0.3, 1e-7])
@pytest.mark.parametrize("up", [True, False])
def test_values_do_not_depend_on_the_last_bits_of_log(granularity, up, monkeypatch):
    c = costs()
    expected = coarsen(c, granularity, np.random.default_rng(5), up=up)
    exact_log = np.log
    noise = np.random.default_rng(9)

    def log_one_ulp_off(x, *args, **kwargs):  # another CPU's log: some values a unit in the last place off
        y = exact_log(x, *args, **kwargs)
        return np.where(noise.random(y.shape) < 0.5, np.nextafter(y, np.inf), np.nextafter(y, -np.inf))

    monkeypatch.setattr(np, "log", log_one_ulp_off)
    assert np.array_equal(coarsen(c, granularity, np.random.default_rng(5), up=up), expected)


@pytest.mark.parametrize("granularity", [0.01, 1e-7])
def test_rounding_up_keeps_every_cost_and_is_exact_at_the_grid_values(granularity):
    c = costs(1)
    up = coarsen(c, granularity, np.random.default_rng(3), up=True)
    assert (up >= c).all() and (up[c == 0] == 0).all()
    assert (up <= c * (1 + granularity) * (1 + 1e-12)).all()
    # a cost at a grid value is its own cell; one a hair above it goes to the next
    assert np.array_equal(coarsen(up, granularity, np.random.default_rng(3), up=True), up)
    above = coarsen(np.nextafter(up, np.inf), granularity, np.random.default_rng(3), up=True)
    positive = c > 0
    assert (above[positive] > up[positive]).all()


def test_nearest_cell_in_ratio_and_one_grid_per_column():
    c = costs(2)
    near = coarsen(c, 0.01, np.random.default_rng(4), up=False)
    ratio = near[c > 0] / c[c > 0]
    assert ratio.min() >= 1 / np.sqrt(1.01) * (1 - 1e-12) and ratio.max() <= np.sqrt(1.01) * (1 + 1e-12)
    two = coarsen(np.column_stack([c, 3 * c]), 0.01, np.random.default_rng(4), up=False)
    offsets = np.random.default_rng(4).random(2)
    for j in range(2):  # each column on its own grid, with its own offset
        col = coarsen(np.column_stack([c, 3 * c])[:, j], 0.01, _Fixed(offsets[j]), up=False)
        assert np.array_equal(two[:, j], col)


class _Fixed:
    """A generator whose random() is a given offset."""

    def __init__(self, value):
        self.value = value

    def random(self, size=None):
        return self.value


@pytest.mark.parametrize("up", [True, False])
def test_a_few_costs_over_many_cells_get_the_values_of_every_cell_computed(up):
    # 40 costs spread over ~1,500 cells take only their own cells' values; each must be the value
    # the whole range's table gives it (a cost's value is its cell's, for one offset and step)
    c = costs(3)
    c = c[c > 0]
    few = np.r_[c.min(), c.max(), np.random.default_rng(6).choice(c, 38)]
    many = np.r_[few, c]
    assert np.array_equal(coarsen(few, 0.01, np.random.default_rng(8), up=up),
                          coarsen(many, 0.01, np.random.default_rng(8), up=up)[:few.size])
