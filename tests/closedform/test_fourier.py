"""Fourier conventions (docs/conventions.md) as identities."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from closedform import get_task
from closedform.fourier import (
    dominant_frequency,
    fold_frequency,
    real_fourier_basis,
    real_fourier_labels,
    spectrum_1d,
    to_inner_domain,
    wave_amplitude_phase,
)

angles = st.floats(-np.pi + 1e-6, np.pi, allow_nan=False)


@given(st.integers(3, 150), st.data(), st.floats(0.1, 10), angles)
def test_pure_wave_amplitude_phase(M, data, A, phi):
    k = data.draw(st.integers(1, (M - 1) // 2))
    n = np.arange(M)
    w = A * np.cos(2 * np.pi * k * n / M + phi)
    amp, ph = wave_amplitude_phase(w, k)
    assert amp == pytest.approx(A, rel=1e-9)
    assert np.angle(np.exp(1j * (ph - phi))) == pytest.approx(0, abs=1e-9)
    assert dominant_frequency(w) == k
    # the alias M - k is the same wave with the opposite phase
    amp2, ph2 = wave_amplitude_phase(w, M - k)
    assert amp2 == pytest.approx(A) and np.angle(np.exp(1j * (ph2 + phi))) == pytest.approx(
        0, abs=1e-9
    )


def test_nyquist_wave_amplitude():
    n = np.arange(8)
    amp, ph = wave_amplitude_phase(-2.5 * np.cos(np.pi * n), 4)
    assert amp == pytest.approx(2.5) and abs(ph) == pytest.approx(np.pi)


@given(st.integers(1, 60))
def test_real_basis_is_orthonormal(M):
    B = real_fourier_basis(M)
    np.testing.assert_allclose(B @ B.T, np.eye(M), atol=1e-12)
    assert len(real_fourier_labels(M)) == M


@given(st.integers(2, 100), st.integers(-500, 500))
def test_fold_frequency_range(M, k):
    f = fold_frequency(k, M)
    assert 0 <= f <= M // 2 and (f - k) % M == 0 or (f + k) % M == 0


def test_spectrum_parseval():
    w = np.random.default_rng(0).normal(size=11)
    spec = spectrum_1d(w)
    energy = spec[0] ** 2 + 2 * (spec[1:] ** 2).sum()
    assert energy == pytest.approx(11 * (w**2).sum())


def test_inner_domain_makes_mul_weights_pure_waves():
    task = get_task("mul", 31)
    g, M = task.log_base, task.M
    x = np.arange(31)
    log = task.f1
    w = np.where(x > 0, np.cos(2 * np.pi * 5 * np.maximum(log, 0) / M + 0.7), 0.0)
    inner = to_inner_domain(w, task, "n")
    assert dominant_frequency(inner) == 5
    assert wave_amplitude_phase(inner, 5)[1] == pytest.approx(0.7)
    out = to_inner_domain(np.array([pow(g, 0, 31)] + [0] * 30, float), task, "out")
    assert out.shape == (M,)


def test_inner_domain_rejects_non_bijections():
    with pytest.raises(ValueError, match="bijection"):
        to_inner_domain(np.zeros(7), get_task("square_sum", 7), "n")
    with pytest.raises(ValueError, match="`block`"):
        to_inner_domain(np.zeros(7), get_task("add", 7), "q")
    with pytest.raises(ValueError, match="length p"):
        to_inner_domain(np.zeros(6), get_task("add", 7), "n")


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda: wave_amplitude_phase(np.ones(5), 1.5), TypeError),
        (lambda: wave_amplitude_phase(np.array(["a"]), 1), TypeError),
        (lambda: dominant_frequency(np.ones(1)), ValueError),
        (lambda: real_fourier_basis(0), ValueError),
        (lambda: fold_frequency(3, 0), ValueError),
    ],
    ids=["k-float", "w-strings", "w-too-short", "basis-M-zero", "fold-M-zero"],
)
def test_invalid_input_is_rejected(call, exc):
    with pytest.raises(exc):
        call()
