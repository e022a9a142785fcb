"""The benchmark suite, its command, the C kernel and the peers (each in its own process)."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT


@pytest.mark.slow
def test_cli_bench_host_devices_option_sets_the_device_count(tmp_path):
    """`hhjax bench --host-devices 2` starts JAX with two CPU devices (recorded in the
    result's environment), `--host-devices 1` with one; a count below 1 is an error."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cmd = [sys.executable, "-m", "hhjax.cli", "bench", "--only", "ops", "--plot", ""]
    out = subprocess.run(cmd + ["--host-devices", "2", "--out", str(tmp_path / "b.json")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    environment = json.loads((tmp_path / "b.json").read_text())["environment"]
    assert environment["n_devices"] == 2 and "--xla_force_host_platform_device_count=2" in environment["XLA_FLAGS"]
    bad = subprocess.run(cmd + ["--host-devices", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "--host-devices must be >= 1" in bad.stderr
    one = subprocess.run(cmd + ["--host-devices", "1", "--out", str(tmp_path / "one.json")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    assert json.loads((tmp_path / "one.json").read_text())["environment"]["n_devices"] == 1


@pytest.mark.slow
def test_suite_sections_run_and_report(tmp_path):
    from hhjax.bench.suite import Settings, run_suite

    s = Settings(hh_ns=(1, 100), other_ns=(100,), dtypes=("float32",), work=2e4, min_steps=200, max_steps=400,
                 repeats=1, memory_steps=(1000, 10_000), memory_n=1000, gradient_n=4, gradient_steps=(100,),
                 accuracy_cases=(("rk4", (("dt", 0.05),)), ("euler", (("dt", 0.01),))))
    lines = []
    res = run_suite(s, sections=("throughput", "memory", "accuracy", "gradient", "ops"),
                    out=str(tmp_path / "b.json"), plots=str(tmp_path / "b.png"), log=lines.append)
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["environment"]["jax"] == jax.__version__ and "XLA_FLAGS" in saved["environment"]
    assert (tmp_path / "b.png").stat().st_size > 10_000
    rows = res["throughput"]
    assert {r["model"] for r in rows} == {"hh", "tvlif2hh", "lif", "slif2hh"}
    assert all(r["per_s"] > 0 and "ratio_vs_textbook_scan" in r for r in rows if r["model"] == "hh")
    spikes = [r for r in res["memory"] if r["record"] == "spikes"]
    assert spikes[0]["total_MiB"] == pytest.approx(spikes[1]["total_MiB"], rel=0.01)  # O(N), not O(N·steps)
    every = [r for r in res["memory"] if r["record"] == "every step"][0]
    assert every["total_MiB"] > 3 * spikes[0]["total_MiB"]
    acc = {r["solver"]: r for r in res["accuracy"]}
    assert acc["rk4"]["counts_ok"] and acc["rk4"]["max_err_ms"] < 1e-3 and acc["rk4"]["pareto"]
    assert res["ops"]["paper_fc_network"]["hh"]["mul"] == 10_155_520
    assert any(line.startswith("[throughput] hh") for line in lines)


def test_suite_rejects_unknown_section():
    from hhjax.bench.suite import run_suite

    with pytest.raises(ValueError, match="unknown benchmark section"):
        run_suite(sections=("throughput", "speed"), out=None, plots=None)


def test_cli_bench_bad_arguments(capsys):
    from hhjax.cli import main

    assert main(["bench", "--only", "nonsense", "--out", "", "--plot", ""]) == 2
    assert "unknown benchmark section" in capsys.readouterr().err
    assert main(["bench", "--peers", "no-such-peer", "--out", "", "--plot", ""]) == 2
    assert "unknown peer" in capsys.readouterr().err
    if not any(d.platform == "gpu" for d in jax.devices()):
        assert main(["bench", "--device", "gpu", "--out", "", "--plot", ""]) == 2
        assert "no GPU" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_bench_quick_runs(tmp_path):
    """The quick suite end to end (CI's slow step), with whichever peers are installed:
    those present must agree with hhjax on spike times."""
    out = subprocess.run([sys.executable, "-m", "hhjax.cli", "bench", "--out", str(tmp_path / "bench.json"),
                          "--plot", str(tmp_path / "bench.png")], cwd=ROOT, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "bench.json").read_text())
    for section in ("throughput", "compile", "memory", "accuracy", "gradient", "ops", "sharding", "peers"):
        assert section in res
    for name, peer in res["peers"].items():
        assert "skipped" in peer or peer["agree"], (name, peer)
    assert any(r["default"] and r["pareto"] for r in res["accuracy"])
    # cold compile and the first call in a new process with a warm persistent cache, per case
    assert all(r["compile_s"] > 0 and r["first_call_warm_cache_s"] > 0 for r in res["compile"])


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler")
def test_c_kernel_agrees_with_hhjax():
    """The hand-written C kernel (built here with OpenMP): the same spikes as hhjax in its
    recording run, and its vectorised, threaded counting run counts the same spikes."""
    from hhjax.bench.c_kernel import _library, run_c_kernel
    from hhjax.bench.peers import PeerUnavailable
    from hhjax.bench.suite import Settings, peers

    try:
        _library()
    except PeerUnavailable as e:  # e.g. a compiler without OpenMP
        pytest.skip(str(e))
    res = peers(Settings(dtypes=("float64",), peer_ns=()), names=["c-kernel"], log=lambda s: None)["c-kernel"]
    assert res["agree"] and res["max_dt_ms"] < 1e-9, res
    currents = np.linspace(0.0, 20.0, 37)
    recorded = run_c_kernel(currents, 4000, 0.01, "float64", record=True)
    counted = run_c_kernel(currents, 4000, 0.01, "float64", record=False, threads=2)
    assert counted.spike_counts == recorded.spike_counts and sum(counted.spike_counts) > 0


@pytest.mark.parametrize("name", ["brainpy", "jaxley", "brian2-cpp", "neuron"])
def test_installed_peer_agrees_with_hhjax(name):
    module = {"brainpy": "brainpy", "jaxley": "jaxley", "brian2-cpp": "brian2", "neuron": "neuron"}[name]
    pytest.importorskip(module)
    from hhjax.bench.suite import Settings, peers

    res = peers(Settings(dtypes=("float64",), peer_ns=()), names=[name], log=lambda s: None)[name]
    assert res["agree"], res


@pytest.mark.slow
def test_network_section_reports_rates_events_and_memory():
    """hhjax's COBAHH rows at a toy size (no peers): events counted, memory ∝ synapses."""
    from hhjax.bench.sections.network import network
    from hhjax.bench.suite import Settings

    s = Settings(dtypes=("float32",), repeats=1, network_ns=(400, 800), network_t1=(20.0, 20.0))
    rows = network(s, peer_names=[], log=lambda *_: None)
    assert [r["n"] for r in rows] == [400, 800] and all(r["simulator"] == "hhjax" for r in rows)
    for r in rows:
        assert r["sim_s_per_wall_s"] > 0 and r["synaptic_events"] > 0
        assert 8 <= r["bytes_per_synapse"] <= 24  # (int32 targets + padding, per-neuron states)


def test_network_peer_unavailable_is_reported(monkeypatch):
    from hhjax.bench.sections.network import run_network_peer

    monkeypatch.setenv("HHJAX_PYTHON_NEST", sys.executable)  # (this interpreter has no NEST)
    got = run_network_peer("nest", dict(benchmark="cobahh", n=100, t1=1.0, dt=0.1, seed=0))
    if "unavailable" not in got:
        pytest.skip("NEST is installed in this interpreter")
    assert "nest" in got["unavailable"]


def test_peers_time_the_best_of_their_runs_unless_slow():
    from hhjax.bench.network_peers.peer_common import best_of

    walls = iter([3.0, 7.0])
    calls = []

    def again():
        calls.append(1)
        return next(walls)

    assert best_of(5.0, again, 3) == (3.0, 3) and len(calls) == 2
    calls.clear()
    assert best_of(45.0, again, 3) == (45.0, 1) and not calls      # a run of 30 s or more: once
    assert best_of(2.0, again, None) == (2.0, 1) and not calls      # no repeats asked: once
