"""F–I curves against the analytic LIF rate."""

import numpy as np
import pytest

import hhjax as hj
from hhjax.analysis import fi_curve


def test_fi_curve_of_lif_equals_the_analytic_rate():
    """LIF: period = t_ref + τ·ln(RI/(RI − (V_th − V_reset))) above rheobase (V_rest = V_reset),
    0 below it."""
    lif = hj.LIF(tau=10.0, V_rest=-65.0, V_reset=-65.0, V_th=-50.0, R=10.0, t_ref=2.0)
    currents = np.asarray([1.0, 1.6, 2.0, 3.0, 5.0])
    rates = fi_curve(lif, currents, t1=600.0, transient=100.0, dtype="float64", rtol=1e-10, atol=1e-10)
    RI = 10.0 * currents
    analytic = np.where(RI > 15.0, 1000.0 / (2.0 + 10.0 * np.log(RI / np.maximum(RI - 15.0, 1e-300))), 0.0)
    np.testing.assert_allclose(rates, analytic, rtol=2e-3, atol=0.5)


def test_fi_curve_rejects_a_transient_longer_than_the_run():
    with pytest.raises(ValueError, match="t1 > transient"):
        fi_curve(hj.LIF(), [1.0], t1=100.0, transient=200.0)
