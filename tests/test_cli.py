"""The command line: `hhjax simulate` and the main job `hhjax equivalence`."""

import json

import numpy as np
import pytest

from hhjax.cli import main


def test_simulate_hh_json_matches_reference(tmp_path, hh_reference):
    out = tmp_path / "hh.json"
    rc = main(["simulate", "--model", "hh", "--stimulus", "const:10", "--t1", "200", "--solver", "tsit5",
               "--rtol", "1e-10", "--atol", "1e-10", "--out", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    ref = next(p for p in hh_reference["protocols"] if p["name"] == "const_10")["spike_times_ms"]
    np.testing.assert_allclose(data["spike_times_ms"][0], ref, atol=1e-4)
    assert data["params"]["g_Na"] == 120.0 and data["params"]["E_L"] == -54.387
    assert data["settings"]["solver"] == "tsit5" and data["settings"]["threshold_mV"] == 0.0
    assert {"jax", "diffrax", "equinox", "hhjax"} <= set(data["versions"])


def test_simulate_population_shifted_and_params(tmp_path):
    out = tmp_path / "pop.json"
    rc = main(["simulate", "--model", "hh-shifted", "--stimulus", "square:0,20,40", "--t1", "100",
               "--dt", "0.01", "--solver", "rk4", "--n", "3", "--dtype", "float32", "--param", "g_K=40",
               "--param", "alpha_m.v_half=20",
               "--out", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert len(data["spike_times_ms"]) == 3 and data["params"]["g_K"] == 40.0
    assert data["spike_times_ms"][0] == data["spike_times_ms"][2] and len(data["spike_times_ms"][0]) >= 2
    assert data["settings"]["threshold_mV"] == 65.0  # 0 mV on the absolute scale


def test_simulate_slif2hh_and_lif(tmp_path):
    out = tmp_path / "s.json"
    assert main(["simulate", "--model", "slif2hh", "--stimulus", "paper:const", "--t1", "80", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["spike_times_ms"] == [[14.0, 29.0, 44.0, 59.0, 74.0]]
    assert main(["simulate", "--model", "lif", "--stimulus", "const:2", "--t1", "50", "--dt", "0.1",
                 "--solver", "expeuler", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["spike_times_ms"][0]) == 3


@pytest.mark.parametrize("args, message", [
    (["--model", "izhikevich"], "unknown model"),
    (["--model", "hh", "--solver", "rk7", "--dt", "0.01"], "unknown solver"),
    (["--model", "hh", "--stimulus", "wobble:1"], "unknown stimulus kind"),
    (["--model", "hh", "--dt", "-0.1", "--solver", "euler"], "dt must be a positive"),
    (["--model", "hh", "--param", "g_X=1"], "unknown parameter"),
    (["--model", "hh", "--param", "alpha_m.slope=1"], "unknown parameter"),
    (["--model", "hh", "--t1", "-5"], "t1 must be greater than t0"),
])
def test_bad_arguments_exit_2_with_message(args, message, capsys):
    assert main(["simulate", *args]) == 2
    assert message in capsys.readouterr().err


def test_equivalence_main_job(tmp_path, capsys):
    fig, js = tmp_path / "eq.png", tmp_path / "eq.json"
    assert main(["equivalence", "--figure", str(fig), "--out", str(js)]) == 0
    text = capsys.readouterr().out
    assert "max|ΔV| mV" in text and "sawtooth" in text
    rows = {r["waveform"]: r for r in json.loads(js.read_text())["rows"]}
    assert set(rows) == {"const", "sine", "square", "sawtooth", "triangle"}
    for r in rows.values():
        assert r["tvlif2hh_spikes"] == r["hh_spikes"] and r["tvlif2hh_max_dV_mV"] < 1e-6
    assert rows["const"]["slif2hh_normalised_error"] == pytest.approx(0.040, abs=0.005)
    assert rows["sine"]["slif2hh_normalised_error"] == pytest.approx(0.173, abs=0.01)
    assert (rows["square"]["hh_spikes"], rows["square"]["slif2hh_spikes"]) == (7, 6)
    assert fig.stat().st_size > 10_000
