"""The optimisation loop: multi-start, any optax transformation, NaN stop, checkpoints
that survive kill -9, sharding over devices."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hhjax import fitting as hf

from conftest import ROOT  # noqa: E402


def _quadratic(theta):
    target = jnp.asarray([1.0, -2.0, 0.5])
    return jnp.sum((theta["x"] - target) ** 2) + (theta["y"] - 3.0) ** 2


def _starts(k):
    key = jax.random.PRNGKey(1)
    return {"x": jax.random.normal(key, (k, 3)), "y": jnp.linspace(-5.0, 5.0, k)}


@pytest.mark.parametrize("name", ["default", "sgd", "clipped-adam", "lbfgs"])
def test_multistart_fit_reaches_the_minimum(name):
    optimizer = {"default": None, "sgd": optax.sgd(0.1), "lbfgs": optax.lbfgs(),
                 "clipped-adam": optax.chain(optax.clip_by_global_norm(1.0),
                                             optax.adam(optax.exponential_decay(0.1, 50, 0.3)))}[name]
    steps = 1000 if name == "default" else 300
    res = hf.fit(_quadratic, _starts(5), optimizer=optimizer, steps=steps, progress=False)
    np.testing.assert_allclose(res.theta["x"], [1.0, -2.0, 0.5], atol=1e-3)
    assert res.loss < 1e-5 and res.history.shape == (steps, 5)
    assert np.all(np.isfinite(np.asarray(res.history)))


def test_per_start_optimisers_are_independent():
    """Global-norm clipping must act per start: a fit of K starts equals K fits of one."""
    opt = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(0.05))
    starts = _starts(3)
    together = hf.fit(_quadratic, starts, optimizer=opt, steps=30, progress=False)
    for k in range(3):
        alone = hf.fit(_quadratic, jax.tree.map(lambda x: x[k:k + 1], starts), optimizer=opt, steps=30, progress=False)
        np.testing.assert_allclose(alone.theta_per_start["x"][0], together.theta_per_start["x"][k], rtol=1e-12)


def test_nan_stops_the_fit_and_keeps_the_last_good_checkpoint(tmp_path):
    def loss(theta):
        return jnp.sum(jnp.log(theta["x"]))

    theta0 = {"x": jnp.asarray([[0.5], [0.6]])}
    with pytest.raises(hf.FitError, match=r"NaN/inf at step 1 in start\(s\) \[0, 1\].*last good checkpoint \(step 1\)"):
        hf.fit(loss, theta0, optimizer=optax.sgd(1.0), steps=10, checkpoint_dir=tmp_path, checkpoint_every=1,
               progress=False)
    meta = json.loads((tmp_path / hf.loop.META_FILE).read_text())
    assert meta["step"] == 1
    like = hf.FitState(theta=theta0, opt_state=jax.vmap(optax.sgd(1.0).init)(theta0), step=jnp.asarray(0, jnp.int32),
                       key=jax.random.PRNGKey(0), best_loss=jnp.zeros(2), best_theta=theta0,
                       history=jnp.zeros((10, 2)))
    state = hf.load_checkpoint(tmp_path, like, meta["fingerprint"])
    assert int(state.step) == 1 and np.all(np.isfinite(np.asarray(state.theta["x"])))
    with pytest.raises(hf.FitError, match="different fit"):
        hf.load_checkpoint(tmp_path, like, "0000")


def _cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "hhjax.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_fit_killed_with_sigkill_resumes_to_the_same_result(tmp_path):
    trace = tmp_path / "trace.npz"
    p = _cli(["simulate", "--model", "hh", "--stimulus", "step:0,10,2", "--t1", "20", "--solver", "tsit5",
              "--rtol", "1e-9", "--atol", "1e-9", "--save-every", "0.02", "--out", str(trace)])
    assert p.wait() == 0, p.stdout.read()
    common = ["fit", "--target", str(trace), "--model", "hh", "--fit", "g_Na,g_K,g_L,E_L", "--starts", "4",
              "--steps", "1500", "--lr", "0.02", "--no-progress", "--checkpoint-every", "20"]
    ref = _cli(common + ["--out", str(tmp_path / "uninterrupted.json")])
    assert ref.wait() == 0, ref.stdout.read()

    ckpt = tmp_path / "ckpt"
    victim = _cli(common + ["--out", str(tmp_path / "resumed.json"), "--checkpoint", str(ckpt)])
    meta = ckpt / hf.loop.META_FILE
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if meta.exists() and json.loads(meta.read_text())["step"] >= 40:
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the fit finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = json.loads(meta.read_text())["step"]
    assert 40 <= killed_at < 1500 and not (tmp_path / "resumed.json").exists()

    resumed = _cli(common + ["--out", str(tmp_path / "resumed.json"), "--checkpoint", str(ckpt), "--resume"])
    assert resumed.wait() == 0, resumed.stdout.read()
    a = json.loads((tmp_path / "uninterrupted.json").read_text())
    b = json.loads((tmp_path / "resumed.json").read_text())
    for n in ("g_Na", "g_K", "g_L", "E_L"):
        np.testing.assert_allclose(b["params"][n], a["params"][n], rtol=1e-12, atol=0)
    np.testing.assert_allclose(b["loss_history_min"], a["loss_history_min"], rtol=1e-12)
    assert b["loss"] == pytest.approx(a["loss"], rel=1e-12)


@pytest.mark.slow
def test_starts_are_sharded_over_four_devices_with_the_same_result():
    script = textwrap.dedent("""
        import json, jax, jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        from hhjax import fitting as hf
        import hhjax as hj
        tr = hf.synthetic_traces(hj.HodgkinHuxley(), {"s": hj.Step(0.0, 10.0, 2.0)}, t1=10.0, sample_dt=0.02)
        space = hf.ParameterSpace.of(hj.HodgkinHuxley(), ["g_Na", "g_K", "E_L"])
        th = space.perturbed_starts(jax.random.PRNGKey(3), 8, 0.3)
        loss = lambda t: hf.equation_error(space.model(t), tr)
        a = hf.fit(loss, th, steps=20, progress=False, shard=True)
        b = hf.fit(loss, th, steps=20, progress=False, shard=False)
        print(json.dumps(dict(devices=len(jax.devices()), used=a.devices,
              sharded=[float(x) for x in a.loss_per_start], plain=[float(x) for x in b.loss_per_start],
              theta_sharded=a.theta_per_start["g_Na"].tolist(), theta_plain=b.theta_per_start["g_Na"].tolist())))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == 4 and res["used"] == 4
    np.testing.assert_allclose(res["sharded"], res["plain"], rtol=1e-10)
    np.testing.assert_allclose(res["theta_sharded"], res["theta_plain"], rtol=1e-10)
