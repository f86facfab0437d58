"""Metropolis-adjusted baselines: random-walk Metropolis and emcee.

* :class:`RandomWalkMetropolis` (``rwm``): a few independent chains with
  isotropic Gaussian proposals whose scale adapts toward the 0.234
  acceptance rate of Roberts, Gelman, Gilks (1997) during the first half of
  the budget and is then frozen. It is what a user without tuning effort
  runs, and it is not affine invariant.
* :class:`EmceeSampler` (``emcee``): the stretch move of Goodman and Weare
  (2010, "Ensemble samplers with affine invariance", Commun. Appl. Math.
  Comput. Sci.) as implemented by the emcee package (Foreman-Mackey, Hogg,
  Lang, Goodman 2013), gradient-free and affine invariant.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field
from toolkit import BudgetExhausted, ComponentConfig, Sampler, Samples, Target

from toolkit_aldi._ensemble import HistoryRecorder, plan_steps

__all__ = ["EmceeSampler", "RandomWalkMetropolis"]

_TARGET_ACCEPTANCE = 0.234


class RandomWalkMetropolis(Sampler):
    """Parallel random-walk Metropolis chains with an adapted isotropic scale.

    During adaptation the log proposal scale moves by
    ``t^{-0.6} (mean acceptance - 0.234)`` after step ``t``, a Robbins–Monro
    update; all chains share the scale.
    """

    name: ClassVar[str] = "rwm"
    description: ClassVar[str] = (
        "Random-walk Metropolis, isotropic proposals adapted to 0.234 acceptance"
    )
    requires: ClassVar[frozenset[str]] = frozenset({"density"})

    class Config(ComponentConfig):
        n_chains: int = Field(
            4, ge=1, le=10_000, description="Number of independent chains."
        )
        initial_scale: float | None = Field(
            None,
            gt=0.0,
            le=1e6,
            description=(
                "Initial proposal standard deviation per coordinate, in the "
                "target's units; None means 2.38 / sqrt(dim)."
            ),
        )
        adapt_fraction: float = Field(
            0.5,
            ge=0.0,
            le=1.0,
            description="Fraction of the steps during which the scale adapts.",
        )
        max_stored: int = Field(
            2000,
            ge=10,
            le=1_000_000,
            description="Maximum number of states kept in the history (thinned).",
        )

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        """Run the chains until the next batch of proposals would pass ``budget``.

        Returns
        -------
        Samples
            History of shape ``(n_stored, n_chains, dim)``; ``info`` contains the
            final scale and the acceptance rate after adaptation.
        """
        config = self.config
        rng = np.random.default_rng(seed)
        n_chains = config.n_chains
        positions = target.initial_ensemble(rng, n_chains)
        n_steps = plan_steps(target, budget, per_step=n_chains, initial=n_chains)
        n_adapt = int(config.adapt_fraction * n_steps)
        recorder = HistoryRecorder(n_steps, config.max_stored)
        recorder.record(0, positions)

        log_scale = math.log(config.initial_scale or 2.38 / math.sqrt(target.dim))
        log_density = target.log_density(positions)
        accepted_after_adaptation = 0
        for step in range(1, n_steps + 1):
            scale = math.exp(log_scale)
            proposals = positions + scale * rng.standard_normal(positions.shape)
            proposal_log_density = target.log_density(proposals)
            log_ratio = proposal_log_density - log_density
            accept = np.log(rng.uniform(size=n_chains)) < log_ratio
            positions = np.where(accept[:, None], proposals, positions)
            log_density = np.where(accept, proposal_log_density, log_density)
            if step <= n_adapt:
                log_scale += step**-0.6 * (accept.mean() - _TARGET_ACCEPTANCE)
            else:
                accepted_after_adaptation += int(accept.sum())
            recorder.record(step, positions)

        n_frozen = (n_steps - n_adapt) * n_chains
        acceptance = accepted_after_adaptation / n_frozen if n_frozen else None
        return Samples.from_target(
            recorder.history(),
            target,
            n_chains=n_chains,
            n_steps=n_steps,
            thin=recorder.thin,
            final_scale=math.exp(log_scale),
            acceptance_rate=acceptance,
        )


class EmceeSampler(Sampler):
    """emcee's ``EnsembleSampler`` with the stretch move, vectorised.

    ``vectorize=True`` hands whole half-ensembles to the target, so every
    density evaluation is counted. emcee requires ``n_walkers >= 2 dim``.
    """

    name: ClassVar[str] = "emcee"
    description: ClassVar[str] = (
        "emcee EnsembleSampler, Goodman-Weare stretch move (needs the emcee package)"
    )
    requires: ClassVar[frozenset[str]] = frozenset({"density"})

    class Config(ComponentConfig):
        n_walkers: int | None = Field(
            None,
            ge=4,
            le=100_000,
            description="Number of walkers; None means 2 * dim + 2 (emcee needs >= 2 * dim).",
        )
        stretch_scale: float = Field(
            2.0,
            gt=1.0,
            le=100.0,
            description="Stretch-move scale a; z is drawn on [1/a, a].",
        )
        max_stored: int = Field(
            2000,
            ge=10,
            le=1_000_000,
            description="Maximum number of ensemble states kept in the history (thinned).",
        )

    def sample(self, target: Target, budget: int, seed: int) -> Samples:
        """Run emcee until the next step would pass ``budget``.

        Returns
        -------
        Samples
            History of shape ``(n_stored, n_walkers, dim)``; ``info`` contains the
            mean acceptance fraction.

        Raises
        ------
        ImportError
            If emcee is not installed.
        ValueError
            If ``n_walkers < 2 dim``.
        """
        try:
            import emcee
        except ImportError as error:
            msg = (
                "the 'emcee' sampler needs the emcee package; install it with "
                "pip install 'interp-toolkit[peers]'"
            )
            raise ImportError(msg) from error

        config = self.config
        n_walkers = config.n_walkers or 2 * target.dim + 2
        if n_walkers < 2 * target.dim:
            msg = (
                f"emcee needs n_walkers >= 2 * dim = {2 * target.dim}; "
                f"received {n_walkers}"
            )
            raise ValueError(msg)
        rng = np.random.default_rng(seed)
        initial = target.initial_ensemble(rng, n_walkers)
        # Each stretch-move step evaluates both half-ensembles once, and emcee
        # evaluates the initial ensemble before the first step.
        n_steps = plan_steps(target, budget, per_step=n_walkers, initial=n_walkers)
        thin = max(1, math.ceil(n_steps / config.max_stored))

        sampler = emcee.EnsembleSampler(
            n_walkers,
            target.dim,
            target.log_density,
            moves=emcee.moves.StretchMove(a=config.stretch_scale),
            vectorize=True,
        )
        sampler.random_state = np.random.RandomState(
            int(rng.integers(2**32 - 1))
        ).get_state()
        try:
            sampler.run_mcmc(initial, n_steps, progress=False)
        except BudgetExhausted:
            # Only a target budget shared with another consumer gets here;
            # the backend keeps every completed step.
            pass
        chain = sampler.get_chain(thin=thin)
        history = np.concatenate([initial[None], chain])
        return Samples.from_target(
            history,
            target,
            n_walkers=n_walkers,
            n_steps=int(sampler.iteration),
            thin=thin,
            acceptance_rate=float(np.mean(sampler.acceptance_fraction)),
        )
