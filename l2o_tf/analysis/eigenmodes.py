"""Eigenmodes of a linearized optimizer as momentum timescales and learning rates
(dynamics paper App. C, eqs. 4-5; spec "Analysis" 3).

With J = R B R⁻¹ (R: right eigenvectors r_j as columns, B = diag(β_j)) and U = R⁻ᵀ (left
eigenvectors u_j as columns, so Uᵀ R = I and Uᵀ J = B Uᵀ), the coordinates v = Uᵀ (h − h*)
decouple:

    v_j(k+1) = β_j v_j(k) + α_j g(k),      α = Uᵀ b,

and x moves by r(h*) + wᵀ (h − h*) = drift + Σ_j c_j v_j with c_j = wᵀ r_j. Writing
v_j = α_j m_j turns mode j into momentum m ← β_j m + g, x ← x − lr_j m with

    timescale |β_j|,      learning rate lr_j = −c_j α_j = −(wᵀ r_j)(u_jᵀ b),

which does not depend on how r_j and u_j are scaled. For a complex pair β_j, β̄_j the two
learning rates are conjugate; `learning_rates` keeps them complex and plots use the real
part (the pair's joint contribution is twice it).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from l2o_tf.analysis.linearization import Linearization


@dataclasses.dataclass
class Eigenmodes:
    """The modes of one linearization, sorted by |β| (slowest first).

    Attributes:
        eigenvalues: β_j (complex). [N]
        left: U, left eigenvectors as columns, Uᵀ R = I. [N, N]
        right: R, right eigenvectors as columns. [N, N]
        alpha: α = Uᵀ b, each mode's input gain. [N]
        readout_gains: c_j = wᵀ r_j. [N]
    """

    eigenvalues: np.ndarray
    left: np.ndarray
    right: np.ndarray
    alpha: np.ndarray
    readout_gains: np.ndarray

    @property
    def timescales(self) -> np.ndarray:
        """|β_j|, the momentum timescale of each mode."""
        return np.abs(self.eigenvalues)

    @property
    def learning_rates(self) -> np.ndarray:
        """lr_j = −(wᵀ r_j) α_j (complex for complex modes)."""
        return -self.readout_gains * self.alpha

    def select(self, k: int = 1) -> np.ndarray:
        """Indices of the k modes with the largest total learning rate |lr_j| / (1 − |β_j|)
        (the step a constant unit gradient finally drives; **choice** of ranking), plus the
        conjugate partner of every complex mode so that the selection is real."""
        total = np.abs(self.learning_rates) / np.maximum(1.0 - self.timescales, 1e-12)
        chosen: list[int] = []
        for j in np.argsort(-total):
            if len(chosen) >= k:
                break
            if j in chosen:
                continue
            chosen.append(int(j))
            if abs(self.eigenvalues[j].imag) > 0:
                partner = np.argmin(np.abs(self.eigenvalues - np.conj(self.eigenvalues[j])))
                chosen.append(int(partner))
        return np.array(sorted(chosen))


def eigenmodes(linearization: Linearization) -> Eigenmodes:
    """Eigen-decomposition of J into (timescale, learning rate) modes (module docstring)."""
    beta, right = np.linalg.eig(linearization.jacobian)
    order = np.argsort(-np.abs(beta), kind="stable")
    beta, right = beta[order], right[:, order]
    left = np.linalg.inv(right).T
    return Eigenmodes(
        eigenvalues=beta,
        left=left,
        right=right,
        alpha=left.T @ linearization.input_vector,
        readout_gains=linearization.readout_vector @ right,
    )
