"""Symbolic proof, with sympy, that the exact phase scheme cancels every wave but n + m - q.

One quadratic neuron contributes W2[q] * (W1[n] + W1[p+m])^2 to the logit of q (Gromov
eq. 9-11). With a = 2 pi k f1(n)/M, b = 2 pi k f2(m)/M, c = 2 pi k r/M this is

    (cos(a + phi1) + cos(b + phi2))^2 * cos(c + phi3),

a sum of waves cos(alpha a + beta b + gamma c + theta). The certificate lists those waves
(eq. 11), then sums them over the six neurons of the exact scheme,
(phi1, phi2) = (2 pi j/6, 2 pi 4j/6), phi3 = phi1 + phi2, in exact arithmetic: only
(alpha, beta, gamma) = (1, 1, -1) survives, with amplitude 3. As a, b, c are free symbols,
the identity holds for every frequency k, every task (f1, f2, F) and every branch r.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["ExactnessCertificate", "exactness_certificate", "exact_phase_set"]

a, b, c = sp.symbols("a b c", real=True)
phi1, phi2, phi3 = sp.symbols("phi1 phi2 phi3", real=True)
_x, _y, _z, _u, _v, _w = sp.symbols("x y z u v w")  # e^{ia}, e^{ib}, e^{ic}, e^{i phi_1,2,3}

Key = tuple[int, int, int]


def exact_phase_set() -> list[tuple[sp.Expr, sp.Expr]]:
    """The six (phi1, phi2) of the exact scheme as exact sympy numbers."""
    return [(2 * sp.pi * j / 6, 2 * sp.pi * 4 * j / 6) for j in range(6)]


@dataclass(frozen=True)
class ExactnessCertificate:
    """What :func:`exactness_certificate` proved.

    Attributes
    ----------
    neuron_terms : dict[(alpha, beta, gamma), sympy.Expr]
        One neuron's waves (Gromov eq. 11): amplitude * cos(alpha a + beta b + gamma c + theta)
        in the phases phi1, phi2, phi3 (one key per pair of conjugate waves, first nonzero
        exponent positive; (0, 0, 0) would be a constant).
    identity_holds : bool
        sympy verified that the waves add up to (cos(a+phi1) + cos(b+phi2))^2 cos(c+phi3).
    phase_set : list of (phi1, phi2)
        The neurons summed over (phi3 = phi1 + phi2 for each).
    scheme_terms : dict[(alpha, beta, gamma), sympy.Expr]
        The summed waves, exactly simplified; zero amplitude means full cancellation.
    surviving : tuple of keys
        Keys with non-zero summed amplitude.
    is_exact : bool
        True iff only (1, 1, -1), the wave in f1(n) + f2(m) - r, survives with a positive amplitude.
    """

    neuron_terms: dict
    identity_holds: bool
    phase_set: list
    scheme_terms: dict
    surviving: tuple
    is_exact: bool

    def __str__(self) -> str:
        lines = ["One quadratic neuron (Gromov eq. 11):"]
        lines += [f"  {expr}" for expr in self.neuron_terms.values()]
        lines.append(f"  identity verified by sympy: {self.identity_holds}")
        lines.append(f"Summed over {len(self.phase_set)} phase pairs (phi3 = phi1 + phi2):")
        for key, expr in self.scheme_terms.items():
            lines.append(f"  cos({_arg(key)}): {expr}")
        verdict = "EXACT" if self.is_exact else "NOT exact"
        lines.append(f"Surviving waves: {list(self.surviving)} -> {verdict}")
        return "\n".join(lines)


def _arg(key: Key) -> sp.Expr:
    return key[0] * a + key[1] * b + key[2] * c


def _canonical(key: Key) -> tuple[Key, bool]:
    """Fold a wave and its conjugate onto one key (first nonzero exponent positive)."""
    for e in key:
        if e:
            return (key, False) if e > 0 else (tuple(-x for x in key), True)
    return key, False


def _monomials() -> dict[Key, sp.Expr]:
    """Exponential form: coefficient (in u, v, w) of each x^alpha y^beta z^gamma."""
    cos = lambda t, s: (t * s + 1 / (t * s)) / 2  # noqa: E731
    expr = sp.expand((cos(_x, _u) + cos(_y, _v)) ** 2 * cos(_z, _w))
    out: dict[Key, sp.Expr] = {}
    for term in sp.Add.make_args(expr):
        powers = term.as_powers_dict()
        key = (int(powers.get(_x, 0)), int(powers.get(_y, 0)), int(powers.get(_z, 0)))
        coeff = term / (_x ** key[0] * _y ** key[1] * _z ** key[2])
        out[key] = out.get(key, 0) + coeff
    return out


def _to_angle(coeff: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """A monomial c u^i v^j w^l -> (c, i phi1 + j phi2 + l phi3)."""
    powers = coeff.as_powers_dict()
    theta = sum(int(powers.get(s, 0)) * ph for s, ph in ((_u, phi1), (_v, phi2), (_w, phi3)))
    amp = coeff.subs({_u: 1, _v: 1, _w: 1})
    return amp, theta


def exactness_certificate(phase_set=None) -> ExactnessCertificate:
    """Prove (or refute) that a set of neurons cancels every wave but f1(n) + f2(m) - r.

    Parameters
    ----------
    phase_set : list of (phi1, phi2), optional
        Exact sympy numbers (e.g. rational multiples of pi). Default: the exact scheme's six
        pairs (2 pi j/6, 2 pi 4j/6), j = 0..5 (docs/conventions.md). phi3 = phi1 + phi2 (eq. 12).

    Returns
    -------
    ExactnessCertificate

    Notes
    -----
    Expanding with cos t = (e^{it} + e^{-it})/2 turns the neuron into a Laurent polynomial in
    e^{ia}, e^{ib}, e^{ic}; the coefficient of each monomial is a monomial in e^{i phi}.
    Summing those coefficients over the phase set, rewritten in radicals, gives exact zeros
    for all waves but (1, 1, -1). Every wave of eq. 11 has a phase
    i phi1 + j phi2 + l phi3 = 2 pi (i + 4 j + 5 l) t / 6 at t = j-th neuron, so it cancels
    unless i + 4 j + 5 l = 0 mod 6, which among eq. 11's waves only n + m - q satisfies.

    Examples
    --------
    >>> cert = exactness_certificate()
    >>> cert.is_exact, cert.surviving, cert.scheme_terms[(1, 1, -1)]
    (True, ((1, 1, -1),), 3)
    >>> import sympy as sp
    >>> exactness_certificate([(0, 0), (sp.pi, 0)]).is_exact     # two phases are not enough
    False
    """
    if phase_set is None:
        phase_set = exact_phase_set()
    try:
        phase_set = [(sp.sympify(p1), sp.sympify(p2)) for p1, p2 in phase_set]
    except (TypeError, ValueError, sp.SympifyError):
        raise ValueError("`phase_set` must be a list of (phi1, phi2) pairs of numbers") from None
    if not phase_set:
        raise ValueError("`phase_set` must hold at least one (phi1, phi2) pair")

    monomials = _monomials()
    neuron_terms: dict[Key, sp.Expr] = {}
    summed: dict[Key, sp.Expr] = {}
    for key, coeff in monomials.items():
        ckey, conj = _canonical(key)
        if conj:  # the conjugate of a listed wave: same real cosine
            continue
        amp, theta = _to_angle(coeff)
        factor = 1 if ckey == (0, 0, 0) else 2  # wave + its conjugate = 2 Re
        neuron_terms[ckey] = factor * amp * sp.cos(_arg(ckey) + theta)
        total = 0
        for p1, p2 in phase_set:
            value = coeff.subs({_u: sp.exp(sp.I * p1), _v: sp.exp(sp.I * p2)})
            value = value.subs(_w, sp.exp(sp.I * (p1 + p2)))
            total += value
        total = sp.nsimplify(sp.expand(sp.expand_complex(total.rewrite(sp.cos))))
        # the summed wave is factor * |total| cos(arg + angle(total))
        summed[ckey] = sp.simplify(factor * total)

    target = (cos_sum := sp.cos(a + phi1) + sp.cos(b + phi2)) ** 2 * sp.cos(c + phi3)
    del cos_sum
    residual = sp.expand(sp.expand_trig(sp.Add(*neuron_terms.values()) - target))
    identity_holds = sp.simplify(residual.rewrite(sp.exp)) == 0
    surviving = tuple(k for k, v in summed.items() if v != 0)
    is_exact = surviving == ((1, 1, -1),) and bool(sp.re(summed[(1, 1, -1)]) > 0)
    return ExactnessCertificate(
        neuron_terms=neuron_terms,
        identity_holds=bool(identity_holds),
        phase_set=phase_set,
        scheme_terms=summed,
        surviving=surviving,
        is_exact=is_exact,
    )
