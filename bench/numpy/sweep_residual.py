"""Residual ||AX - I||_1 / (n u kappa_1(A)) of SPD inverses in float64, for docs/performance.md (the dense core).

Compares the blocked sweep (block Gauss-Jordan) of LinearAlgebra.CholeskyInvert, which works through the Cholesky
factor of each pivot block (Z = X U^-1, symmetric Z Z^T updates), with the textbook blocked sweep (X P^-1 X^T with an
explicit P^-1), the scalar sweep, and a Cholesky factor followed by L^-T L^-1.
Usage: /usr/bin/python3 bench/numpy/sweep_residual.py
"""
import numpy as np


def sweep(a, b, through_cholesky):
    """The sweep over diagonal blocks of b indices; T ends as A^-1 (swept-swept entries carry the opposite sign)."""
    n = a.shape[0]
    t = a.copy()
    for k0 in range(0, n, b):
        k1 = min(n, k0 + b)
        x = t[:, k0:k1].copy()
        p = x[k0:k1, :]
        if through_cholesky:
            v = np.linalg.inv(np.linalg.cholesky(p)).T  # V = U^-1, P = U^T U
            z = x @ v
            y, upd, pinv = z @ v.T, z @ z.T, v @ v.T
        else:
            pinv = np.linalg.inv(p)
            pinv = (pinv + pinv.T) / 2
            y = x @ pinv
            upd = y @ x.T
        s0, s2 = np.arange(0, k0), np.arange(k1, n)
        t[np.ix_(s0, s0)] += upd[np.ix_(s0, s0)]
        t[np.ix_(s2, s0)] -= upd[np.ix_(s2, s0)]
        t[np.ix_(s0, s2)] -= upd[np.ix_(s0, s2)]
        t[np.ix_(s2, s2)] -= upd[np.ix_(s2, s2)]
        t[s0, k0:k1], t[k0:k1, s0] = y[s0], y[s0].T
        t[s2, k0:k1], t[k0:k1, s2] = -y[s2], -y[s2].T
        t[k0:k1, k0:k1] = pinv
    return t


def cholesky_inverse(a):
    m = np.linalg.inv(np.linalg.cholesky(a))
    return m.T @ m


rng = np.random.default_rng(1)
for n, lam in [(130, 1e-4), (257, 1e-4), (400, 1e-5)]:
    g = rng.uniform(-1, 1, (n // 2, n))
    a = lam * np.eye(n) + g.T @ g / (n // 2)
    bound = n * np.finfo(float).eps / 2 * np.linalg.norm(a, 1) * np.linalg.norm(np.linalg.inv(a), 1)
    for name, x in [("sweep through Cholesky, b = 64", sweep(a, 64, True)),
                    ("textbook sweep, explicit P^-1, b = 64", sweep(a, 64, False)),
                    ("scalar sweep", sweep(a, 1, False)),
                    ("Cholesky, then L^-T L^-1", cholesky_inverse(a))]:
        print(f"n={n} lambda={lam:g} {name}: {np.linalg.norm(a @ x - np.eye(n), 1) / bound:.4f}")
