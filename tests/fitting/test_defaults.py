"""The fit a new user runs: defaults only, on traces the defaults were not tuned on."""

import warnings

import numpy as np
import pytest

import hhjax as hj
from hhjax.fitting.synthetic import synthetic_traces

FREE = ["g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L"]


@pytest.mark.slow
@pytest.mark.parametrize("true", [
    hj.HodgkinHuxley(g_Na=105.0, g_K=41.0, g_L=0.24, E_Na=53.0, E_K=-74.0, E_L=-51.0),
    hj.HodgkinHuxley(g_Na=131.0, g_K=30.5, g_L=0.36, E_Na=47.0, E_K=-80.0, E_L=-56.5),
], ids=["hidden-a", "hidden-b"])
def test_default_fit_recovers_six_hh_parameters_within_one_percent(true):
    """`fit_model` with every default (optimizer, starts, steps, loss) from the default HH
    on three-protocol-plus traces of an HH with other parameters: each of the six within
    1 %, reported converged, and no warning."""
    trace = synthetic_traces(true, t1=100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hj.fitting.FitWarning)
        fit = hj.fitting.fit_model(hj.HodgkinHuxley(), trace, FREE, progress=False)
    for name in FREE:
        assert float(fit.params[name]) == pytest.approx(float(getattr(true, name)), rel=1e-2), name
    assert fit.diagnostics.converged and not fit.diagnostics.warnings


def test_a_fit_stopped_early_warns_that_it_has_not_converged():
    """Three Adam steps cannot reach the optimum: the fit says so (a `FitWarning`, and
    `converged` False in its diagnostics) instead of returning a silently wrong answer."""
    true = hj.HodgkinHuxley(g_K=40.0, g_L=0.25)
    trace = synthetic_traces(true, t1=30.0)
    with pytest.warns(hj.fitting.FitWarning, match="not converged"):
        fit = hj.fitting.fit_model(hj.HodgkinHuxley(), trace, ["g_K", "g_L"], optimizer="adam", steps=3, starts=2,
                                   progress=False)
    d = fit.diagnostics
    assert not d.converged and d.predicted_decrease > 1e-3 * d.loss and d.grad_norm > 0


def test_diagnostics_flag_a_parameter_the_data_cannot_determine():
    """A well-posed one-parameter fit has a finite curvature-based standard error; a loss
    that sees only g_K + g_L (one flat direction) gets both reported poorly identified."""
    true = hj.HodgkinHuxley()
    trace = synthetic_traces(true, t1=30.0)
    fit_ok = hj.fitting.fit_model(hj.HodgkinHuxley(g_K=30.0), trace, ["g_K"], starts=2, steps=60, progress=False)
    assert fit_ok.diagnostics.converged and np.isfinite(fit_ok.diagnostics.std_error["g_K"])
    from hhjax.fitting.diagnostics import diagnose
    from hhjax.fitting.problems import make_loss
    from hhjax.fitting.space import ParameterSpace

    space = ParameterSpace.of(hj.HodgkinHuxley(), ["g_K", "g_L"])
    loss = make_loss(space, trace)
    theta = space.to_unconstrained(space.values())

    def degenerate(th):  # a loss that only sees g_K + g_L: one direction is flat
        v = space.to_values(th)
        return (v["g_K"] + v["g_L"] - 36.3) ** 2 + 0 * loss(th)

    with pytest.warns(hj.fitting.FitWarning, match="poorly identified"):
        d = diagnose(degenerate, space, theta)
    assert set(d.poorly_identified) == {"g_K", "g_L"}


@pytest.mark.slow
def test_hhjax_fit_with_its_defaults_recovers_hidden_parameters(tmp_path):
    """The command line exactly as a new user runs it: three traces written by `hhjax
    simulate` (100 ms, float64) from an HH with non-default parameters, then `hhjax fit` with
    nothing but the targets, the model and the six free names. Every parameter within 1 %,
    and the JSON says the fit converged."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    hidden = dict(g_Na=112.0, g_K=33.0, g_L=0.27, E_Na=48.0, E_K=-79.0, E_L=-53.0)
    params = [f"--param={k}={v}" for k, v in hidden.items()]
    targets = []
    for i, stim in enumerate(("step:0,9,20", "sine:4,6,25", "pulses:15,2,12,5")):
        path = tmp_path / f"trace{i}.npz"
        subprocess.run([sys.executable, "-m", "hhjax.cli", "simulate", "--model", "hh", "--stimulus", stim,
                        "--t1", "100", "--out", str(path), *params], cwd=ROOT, check=True, capture_output=True)
        targets += ["--target", str(path)]
    out = tmp_path / "fit.json"
    done = subprocess.run([sys.executable, "-m", "hhjax.cli", "fit", *targets, "--model", "hh", "--fit",
                           ",".join(hidden), "--no-progress", "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FitWarning" not in done.stderr
    res = json.loads(out.read_text())
    for name, value in hidden.items():
        assert res["fitted"][name] == pytest.approx(value, rel=1e-2), name
    assert res["diagnostics"]["converged"]
