"""portfolio.lots.floor_to_step: the one lot floor the planner, the funding plan and the live tests use."""

from __future__ import annotations

import pytest

from freqtrade_smartfolio.portfolio.lots import floor_to_step, truncate_to_step


@pytest.mark.parametrize("step", [0.0, -0.001])
def test_no_lot_leaves_the_amount(step: float) -> None:
    assert floor_to_step(1.23456789, step) == 1.23456789


@pytest.mark.parametrize(
    ("amount", "step", "expected"),
    [(1.23456, 0.001, 1.234), (0.3, 0.1, 0.3), (5.0, 1.0, 5.0), (4.9999, 1.0, 4.0), (0.00099, 0.001, 0.0)],
)
def test_floors_to_the_lot(amount: float, step: float, expected: float) -> None:
    assert floor_to_step(amount, step) == pytest.approx(expected, abs=1e-12)


def test_a_lot_boundary_up_to_float_noise_stays_on_it() -> None:
    assert 0.7 / 0.1 < 7  # 6.999999999999999: a plain floor would lose a whole lot
    assert floor_to_step(0.7, 0.1) == pytest.approx(0.7)


def test_agrees_with_the_decimal_truncation_on_a_grid() -> None:
    for k in range(1, 2000):
        amount = k * 0.001 + 0.0004
        assert floor_to_step(amount, 0.001) == pytest.approx(truncate_to_step(amount, 0.001), abs=1e-12)
