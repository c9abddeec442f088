"""The sympy certificate, checked against numbers."""

import numpy as np
import sympy as sp

from closedform import exactness_certificate
from closedform.proof import a, b, c, phi1, phi2, phi3


def test_exact_scheme_certificate():
    cert = exactness_certificate()
    assert cert.identity_holds and cert.is_exact
    assert cert.surviving == ((1, 1, -1),) and cert.scheme_terms[(1, 1, -1)] == 3
    assert len(cert.neuron_terms) == 9  # Gromov eq. 10 x eq. 7: nine distinct waves
    assert "EXACT" in str(cert)


def test_neuron_terms_equal_the_neuron_numerically():
    cert = exactness_certificate()
    rng = np.random.default_rng(0)
    total = sp.lambdify((a, b, c, phi1, phi2, phi3), sp.Add(*cert.neuron_terms.values()))
    for x in rng.uniform(-5, 5, size=(20, 6)):
        direct = (np.cos(x[0] + x[3]) + np.cos(x[1] + x[4])) ** 2 * np.cos(x[2] + x[5])
        assert np.isclose(total(*x), direct)


def test_summed_terms_equal_six_neurons_numerically():
    cert = exactness_certificate()
    rng = np.random.default_rng(1)
    for x in rng.uniform(-5, 5, size=(10, 3)):
        six = sum(
            (np.cos(x[0] + p1) + np.cos(x[1] + p2)) ** 2 * np.cos(x[2] + p1 + p2)
            for p1, p2 in [(2 * np.pi * j / 6, 8 * np.pi * j / 6) for j in range(6)]
        )
        assert np.isclose(six, 3 * np.cos(x[0] + x[1] - x[2]))
    assert cert.is_exact


def test_too_few_phases_are_refuted():
    cert = exactness_certificate([(0, 0), (sp.pi, 0), (0, sp.pi)])
    assert not cert.is_exact and len(cert.surviving) > 1


def test_random_single_neuron_is_not_exact():
    assert not exactness_certificate([(sp.Rational(1, 3), sp.Rational(2, 7))]).is_exact
