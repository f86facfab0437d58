"""Adaptive Metropolis (Haario, Saksman and Tamminen, Bernoulli 7(2), 2001).

A random-walk Metropolis chain whose Gaussian proposal covariance is the
running covariance of the chain's own history, scaled by ``2.38^2 / dim``
and regularised by ``epsilon * I``. Adaptation stops after the first half of
the budget, so the second half is a plain Metropolis chain with a fixed
proposal.
"""

from __future__ import annotations


import numpy as np
from pydantic import Field

from toolkit import BudgetExhausted, ComponentConfig, Sampler, Samples, Target, hookimpl


class AdaptiveMetropolis(Sampler):
    """Metropolis with a proposal covariance learnt from the chain."""

    name = "adaptive-metropolis"
    description = "Adaptive Metropolis (Haario et al. 2001), several parallel chains."

    class Config(ComponentConfig):
        n_chains: int = Field(
            4, ge=1, description="Independent chains run side by side."
        )
        epsilon: float = Field(
            1e-8, gt=0, description="Ridge added to the proposal covariance."
        )
        initial_scale: float = Field(
            0.1, gt=0, description="Proposal standard deviation before adaptation."
        )

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        rng = np.random.default_rng(seed)
        dim, n = target.dim, self.config.n_chains
        positions = target.initial_ensemble(rng, n)
        log_p = target.log_density(positions)
        scale = 2.38**2 / dim
        covariance = self.config.initial_scale**2 * np.eye(dim)
        running_mean = positions.mean(axis=0)
        running_outer = np.zeros((dim, dim))
        count = 1
        history = [positions.copy()]
        adapt_until = budget // 2
        accepted = 0
        try:
            while True:
                factor = np.linalg.cholesky(
                    covariance + self.config.epsilon * np.eye(dim)
                )
                proposals = positions + rng.standard_normal((n, dim)) @ factor.T
                log_q = target.log_density(proposals)
                accept = np.log(rng.uniform(size=n)) < log_q - log_p
                positions[accept], log_p[accept] = proposals[accept], log_q[accept]
                accepted += int(accept.sum())
                history.append(positions.copy())
                if target.n_evaluations < adapt_until:
                    # Pool the chains' states into one running covariance.
                    for state in positions:
                        count += 1
                        delta = state - running_mean
                        running_mean += delta / count
                        running_outer += np.outer(delta, state - running_mean)
                    if count > 2 * dim:
                        covariance = scale * running_outer / (count - 1)
        except BudgetExhausted:
            pass
        steps = max(len(history) - 1, 1)
        return Samples.from_target(
            np.stack(history), target, acceptance_rate=accepted / (steps * n)
        )


@hookimpl
def toolkit_samplers():
    return [AdaptiveMetropolis]
