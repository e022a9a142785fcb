"""Two-task data that ships with the install, and a loader for the authors' pickle.

`two_digit_dataset`: the Multi-MNIST idea (two overlaid items, one 10-class task each) built
from scikit-learn's bundled handwritten digits (1,797 8×8 images, 0–16): each sample puts
one digit (upsampled 2×, 16×16) in the top-left and another in the bottom-right of a
`canvas`×`canvas` image (overlap: the pixel-wise max), scaled to [0, 1]. Train and test
pairs are drawn from disjoint halves of the source digits (stratified, seeded), so test
digits are never seen in training. Fully determined by `seed`.

`load_multitask_pickle`: the Pareto-MTL / He et al. format,
`(trainX, trainLabel, testX, testLabel) = pickle.load(f)` with X (N, 36, 36) float and
labels (N, 2) int.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MultiTaskData:
    """Flattened images `x_*` (N, H·W) float32 and labels `y_*` (N, tasks) int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    name: str

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_tasks(self) -> int:
        return int(self.y_train.shape[1])

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
                raise ValueError(f"{split}: images {x.shape} and labels {y.shape} do not match "
                                 "(need (N, pixels) and (N, tasks))")
            if not np.all(np.isfinite(x)):
                raise ValueError(f"{split} images contain NaN or inf")


def two_digit_dataset(n_train: int = 6000, n_test: int = 1000, canvas: int = 24, seed: int = 0) -> MultiTaskData:
    """Pairs of overlaid sklearn digits (see the module docstring); `canvas` ≥ 16."""
    from sklearn.datasets import load_digits

    if canvas < 16:
        raise ValueError(f"canvas must be at least 16 pixels (two 16×16 digits), got {canvas}")
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need n_train, n_test >= 1, got {n_train}, {n_test}")
    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((2, 2)))  # 16×16, [0, 1]
    labels = digits.target
    rng = np.random.default_rng(seed)
    train_pool, test_pool = [], []
    for c in range(10):  # stratified half/half split of the source digits
        idx = rng.permutation(np.nonzero(labels == c)[0])
        half = len(idx) // 2
        train_pool.extend(idx[:half])
        test_pool.extend(idx[half:])
    off = canvas - 16

    def pairs(pool, n):
        pool = np.asarray(pool)
        a, b = rng.choice(pool, n), rng.choice(pool, n)
        x = np.zeros((n, canvas, canvas))
        x[:, :16, :16] = images[a]
        x[:, off:, off:] = np.maximum(x[:, off:, off:], images[b])
        return x.reshape(n, -1).astype(np.float32), np.stack([labels[a], labels[b]], 1).astype(np.int32)

    x_tr, y_tr = pairs(train_pool, n_train)
    x_te, y_te = pairs(test_pool, n_test)
    return MultiTaskData(x_tr, y_tr, x_te, y_te, (canvas, canvas), f"two-digit sklearn ({canvas}x{canvas})")


def upsampled_digits(size: int = 28, test_fraction: float = 0.3, seed: int = 0) -> MultiTaskData:
    """scikit-learn's bundled digits (1,797 8×8 images) upsampled bilinearly to
    `size`×`size` and scaled to [0, 1]: one 10-class task, the 784-input setting of the
    paper's fully connected 784–128–10 network (Suppl. Fig. 2.2) without a download.
    A stratified, seeded split puts `test_fraction` of every class in the test set."""
    import jax
    from sklearn.datasets import load_digits

    if size < 8:
        raise ValueError(f"size must be at least 8 (the digits are 8×8), got {size}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    digits = load_digits()
    images = np.asarray(jax.image.resize(digits.images / 16.0, (len(digits.images), size, size), "bilinear"))
    images = np.clip(images, 0.0, 1.0).reshape(len(images), -1).astype(np.float32)
    labels = digits.target.astype(np.int32)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.nonzero(labels == c)[0])
        cut = int(round(test_fraction * len(idx)))
        test.extend(idx[:cut])
        train.extend(idx[cut:])
    train, test = rng.permutation(train), rng.permutation(test)
    return MultiTaskData(images[train], labels[train, None], images[test], labels[test, None], (size, size),
                         f"sklearn digits upsampled to {size}x{size}")


def load_multitask_pickle(path, scale: float | None = None) -> MultiTaskData:
    """Read the authors' Multi-(Fashion+MNIST) pickle: (trainX, trainLabel, testX,
    testLabel). Images are divided by `scale` (default: their maximum, giving [0, 1])."""
    with open(path, "rb") as f:
        try:
            content = pickle.load(f)
        except Exception as e:
            raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from None
    if not isinstance(content, (tuple, list)) or len(content) != 4:
        raise ValueError(f"{path}: expected a 4-tuple (trainX, trainLabel, testX, testLabel), "
                         f"got {type(content).__name__}")
    tx, ty, vx, vy = (np.asarray(a) for a in content)
    if tx.ndim < 2 or vx.ndim < 2:
        raise ValueError(f"{path}: images must be (N, H, W) or (N, pixels), got {tx.shape} and {vx.shape}")
    shape = tuple(tx.shape[1:]) if tx.ndim == 3 else (tx.shape[1],)
    scale = float(max(np.max(tx), 1e-12)) if scale is None else float(scale)
    return MultiTaskData(
        (tx.reshape(len(tx), -1) / scale).astype(np.float32), np.asarray(ty, np.int32).reshape(len(ty), -1),
        (vx.reshape(len(vx), -1) / scale).astype(np.float32), np.asarray(vy, np.int32).reshape(len(vy), -1),
        shape, f"pickle {path}",
    )
