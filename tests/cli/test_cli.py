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


def test_simulate_writes_a_trace_and_fit_recovers_from_it(tmp_path, capsys):
    trace = tmp_path / "trace.npz"
    assert main(["simulate", "--model", "hh", "--param", "g_K=30", "--stimulus", "step:0,10,2", "--t1", "25",
                 "--rtol", "1e-9", "--atol", "1e-9", "--save-every", "0.01", "--out", str(trace)]) == 0
    data = np.load(trace)
    assert data["t"].shape == data["V"].shape == data["I"].shape and data["t"][1] == pytest.approx(0.01)
    assert json.loads(str(data["meta"]))["params"]["g_K"] == 30.0
    out = tmp_path / "fit.json"
    assert main(["fit", "--target", str(trace), "--model", "hh", "--fit", "g_K,g_L,E_L", "--starts", "3",
                 "--steps", "40", "--optimizer", "lbfgs", "--no-progress", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["params"]["g_K"] == pytest.approx(30.0, rel=1e-2)  # started from 36 ± 50 %
    assert res["params"]["E_L"] == pytest.approx(-54.387, rel=1e-2)
    assert len(res["loss_history_min"]) == 40 and res["free"] == ["g_K", "g_L", "E_L"]
    assert res["settings"]["starts"] == 3 and "jax" in res["versions"]


def test_fit_rejects_bad_targets_and_names(tmp_path, capsys):
    t = np.arange(100) * 0.01
    np.savez(tmp_path / "a.npz", t=t, I=np.zeros(100), V=np.full(100, -65.0))
    np.savez(tmp_path / "short.npz", t=t[:50], I=np.zeros(50), V=np.full(50, -65.0))
    np.savez(tmp_path / "nan.npz", t=t, I=np.zeros(100), V=np.where(t > 0.5, np.nan, -65.0))
    np.savez(tmp_path / "mismatch.npz", t=t, I=np.zeros(100), V=np.zeros(99))
    base = ["fit", "--model", "hh", "--steps", "2", "--no-progress", "--out", str(tmp_path / "f.json")]
    cases = [(["--target", str(tmp_path / "a.npz"), "--target", str(tmp_path / "short.npz"), "--fit", "g_K"],
              "share one time grid"),
             (["--target", str(tmp_path / "nan.npz"), "--fit", "g_K"], "NaN"),
             (["--target", str(tmp_path / "mismatch.npz"), "--fit", "g_K"], "V has shape"),
             (["--target", str(tmp_path / "a.npz"), "--fit", "g_Ca"], "unknown parameter 'g_Ca'"),
             (["--target", str(tmp_path / "missing.npz"), "--fit", "g_K"], "does not exist"),
             (["--target", str(tmp_path / "a.npz"), "--fit", "g_K", "--loss", "magic"], "unknown loss"),
             (["--target", str(tmp_path / "a.npz"), "--fit", "g_K", "--loss", "mse", "--robust-mv", "3"],
              "robust_mV applies to the 'equation' loss only"),
             (["--target", str(tmp_path / "a.npz"), "--fit", "g_K", "--robust-mv", "-1"], "robust_mV must be > 0")]
    for extra, message in cases:
        assert main(base + extra) == 2
        assert message in capsys.readouterr().err, message


def test_fit_slif2hh_to_an_hh_trace(tmp_path):
    trace = tmp_path / "hh.npz"
    assert main(["simulate", "--model", "hh", "--stimulus", "const:9", "--t1", "60", "--save-every", "0.05",
                 "--out", str(trace)]) == 0
    out = tmp_path / "s.json"
    assert main(["fit", "--target", str(trace), "--model", "slif2hh", "--steps", "10", "--no-progress",
                 "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    target = res["target_spike_times_ms"][0]
    assert len(target) >= 3 and res["threshold_mV"] == pytest.approx(-12.0, abs=8.0)
    assert len(res["spike_times_ms"][0]) == len(target)  # the fitted unit fires as often as HH
    assert 0 < res["params"]["unit.decay"] < 1


@pytest.mark.slow
def test_the_command_keeps_compiled_programs_between_runs(tmp_path):
    """`hhjax simulate` run as a command: by default it fills a persistent compilation cache
    under ~/.cache/hhjax, HHJAX_COMPILE_CACHE names another folder (a second run gives the
    same spikes from it), and an empty HHJAX_COMPILE_CACHE writes none."""
    import os
    import subprocess
    import sys

    def run(out, home, cache=None):
        cmd = [sys.executable, "-c", "import sys; from hhjax.cli import main; sys.exit(main())", "simulate",
               "--model", "hh", "--stimulus", "const:10", "--t1", "50", "--solver", "rk4", "--dt", "0.025",
               "--out", str(out)]
        env = {k: v for k, v in os.environ.items() if k != "HHJAX_COMPILE_CACHE"}
        env["HOME"] = str(home)
        if cache is not None:
            env["HHJAX_COMPILE_CACHE"] = cache
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        return json.loads(out.read_text())["spike_times_ms"]

    home = tmp_path / "home"
    first = run(tmp_path / "a.json", home)
    assert any("solve" in name for name in os.listdir(home / ".cache" / "hhjax" / "xla"))
    cache = tmp_path / "elsewhere"
    assert run(tmp_path / "b.json", tmp_path / "home2", str(cache)) == first and len(first[0]) >= 2
    assert any("solve" in name for name in os.listdir(cache)) and not (tmp_path / "home2" / ".cache").exists()
    assert run(tmp_path / "d.json", tmp_path / "home2", str(cache)) == first  # from the cache
    assert run(tmp_path / "c.json", tmp_path / "home3", "") == first
    assert not (tmp_path / "home3" / ".cache").exists()


def test_simulate_a_library_model_and_its_tvlif_decomposition(tmp_path):
    """`--model wang-buzsaki` and `--model tvlif:wang-buzsaki` (with a `--param` override of
    a published value): the same spike times; an unknown name lists the library's."""
    out = {}
    for name in ("wang-buzsaki", "tvlif:wang-buzsaki"):
        path = tmp_path / f"{name.replace(':', '_')}.json"
        assert main(["simulate", "--model", name, "--stimulus", "const:1.5", "--t1", "100", "--param", "g_K=10",
                     "--rtol", "1e-10", "--atol", "1e-10", "--out", str(path)]) == 0
        out[name] = json.loads(path.read_text())["spike_times_ms"][0]
    assert len(out["wang-buzsaki"]) >= 5
    np.testing.assert_allclose(out["tvlif:wang-buzsaki"], out["wang-buzsaki"], rtol=0, atol=1e-6)
    assert main(["simulate", "--model", "wang-buzsaki", "--param", "g_NaX=1", "--t1", "10"]) == 2


def test_unknown_library_model_is_a_named_error(capsys):
    assert main(["simulate", "--model", "wang-busaki", "--t1", "10"]) == 2
    assert "unknown model 'wang-busaki'" in capsys.readouterr().err


@pytest.mark.slow  # (~14 s; tests/fitting/test_channels.py fits library models in the default suite)
def test_fit_a_library_model_from_a_simulated_trace(tmp_path):
    """`hhjax fit --model wang-buzsaki --fit k.g,leak.E` on a trace `hhjax simulate` wrote
    from a model with other values: both back within 0.5 %."""
    trace = tmp_path / "wb.npz"
    assert main(["simulate", "--model", "wang-buzsaki", "--stimulus", "step:0,2,10", "--t1", "60", "--param",
                 "g_K=8.5", "--param", "E_L=-62", "--save-every", "0.0025", "--out", str(trace)]) == 0
    out = tmp_path / "fit.json"
    assert main(["fit", "--target", str(trace), "--model", "wang-buzsaki", "--fit", "k.g,leak.E", "--starts", "2",
                 "--steps", "60", "--no-progress", "--out", str(out)]) == 0
    fitted = json.loads(out.read_text())["fitted"]
    assert fitted["channels.k.g"] == pytest.approx(8.5, rel=5e-3)
    assert fitted["channels.leak.E"] == pytest.approx(-62.0, rel=5e-3)
