"""Multi-start Levenberg-Marquardt with a curriculum over length: the ``best`` optimizer.

The iterations themselves run in compiled kernels (:func:`iirnn_core.training.kernels.lm_steps`),
many nets in parallel; this class plans the stages, prunes the starts and picks each key's best net.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from iirnn_core.training import kernels as tk
from iirnn_core.training.optimizer import Optimizer
from iirnn_core.training.problem import Problem, spectral_radii


class LMOptimizer(Optimizer):
    """Multi-start Levenberg-Marquardt with a curriculum over length (the ``best`` optimizer).

    Every key starts ``STARTS`` nets drawn at random: ``W_hh`` entries N(0, 1/H) for half of them,
    the identity plus N(0, ``IDENTITY_SPREAD``^2/H) for the other half (the near-identity init of
    recurrent nets, which slow, low keys need); ``w_ih`` and ``w_out`` N(0, 1), then scaled by the
    target's own gain (its peak over the impulse height): ``w_ih`` down and ``w_out`` up, so that the
    hidden state peaks near ``STATE_LEVELS`` (log-spaced over the starts) instead of saturating tanh
    (a low key rings up to about 1/sin(w) times its impulse: 280 times at A0 and 48 kHz). With init 'pole'
    ``POLE_STARTS`` starts ring at the target's pole instead (:func:`~iirnn_core.training.optimizer.pole_theta`),
    their states peaking at those levels, their extra states drawn afresh. Above ``DENSE_MAX`` hidden states the nets
    are trained in the modal form (block-diagonal ``W_hh``, 2x2 blocks; each random start a bank of
    resonators spread over the band, :meth:`_modal_bank`) and handed back as dense matrices. Each net's normal equations are kept from one step to
    the next while all of them fit in ``CARRY_BYTES``; beyond (many keys of many states), each step computes
    them afresh for its rows: the same numbers, so the same nets, at the cost of one more pass a step.

    The stages fit the first 64, 128, ... samples at 8 kHz (8, 16, ... ms at any rate; doubling
    while at most half the target), then the whole target: up to ``FIRST_STAGE_ITERATIONS`` LM
    iterations in the first stage, half as many in each next one but at least ``STAGE_ITERATIONS``
    (``FINAL_ITERATIONS`` for the last; the short first stages are cheap, and slow keys need many
    iterations there). A net stops early once an iteration gains less than the fraction ``TOL``. After
    each stage each key keeps the better half of its starts (never fewer
    than ``FINALISTS``), stable nets (spectral radius < 1) ranked before unstable ones. A step is
    about ``STEP_WORK`` sample-iterations of a three-state net, fewer for costlier nets (``step_work``; a few
    iterations of every net, or one iteration of the
    next rows when one of all would be more), so progress arrives tens of times a second for any
    number of keys.
    """

    STARTS = 32
    POLE_STARTS = 4
    """Starts per key with init 'pole': each already rings at the target's pole, they differ in level only."""
    FIRST_LENGTH = 64
    FIRST_STAGE_ITERATIONS = 100
    STAGE_ITERATIONS = 20
    FINAL_ITERATIONS = 40
    FINALISTS = 2
    STEP_WORK = 250_000
    LAMBDA0 = 1e-2
    TOL = 1e-5
    IDENTITY_SPREAD = 0.1
    STATE_LEVELS = (0.01, 0.3)
    DENSE_MAX = 16
    """Most hidden states trained in the dense form; above, ``W_hh`` is block-diagonal (the modal form of
    :mod:`iirnn_core.training.kernels`): a dense J^T J has (H*H + 2H)^2 entries, 663 kB a net at H = 16 and
    143 MB at H = 64, and its sensitivities cost H^4 a sample."""
    MODAL_LOWEST = 0.003
    """Lowest angle (radians a sample) of the random modal starts' resonators: A0 at 48 kHz is 0.0036."""
    CARRY_BYTES = 256 << 20
    """The normal equations (J^T J) of every net are kept between steps while they take at most this much: the
    whole keyboard up to 8 dense states, 4 keys at 16 (663 kB a net), 7 keys at 64 modal states (524 kB)."""

    def __init__(self, problem: Problem):
        self.modal = problem.config.hidden > self.DENSE_MAX
        super().__init__(problem)
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        p_all, h = tk.n_params(self.hidden, self.modal), self.hidden
        w_idx, u_idx, v_idx = tk.parts(h, self.modal)
        self.starts = self.POLE_STARTS if cfg.init == "pole" else self.STARTS
        self.step_work = int(self.STEP_WORK * self.unit_cost(3, False) // self.unit_cost(h, self.modal))
        levels = np.geomspace(*self.STATE_LEVELS, self.starts)
        identity = tk.pack(np.eye(h), np.zeros(h), np.zeros(h))[w_idx]
        rows, keys = [], []
        for k, note in enumerate(cfg.notes):
            if cfg.init == "pole":
                starts = np.array([self.initial_theta(k, note, rng, level) for level in levels])
            else:
                starts = rng.normal(size=(self.starts, p_all))
                if self.modal:
                    self._modal_bank(starts, rng)
                else:
                    starts[:, w_idx] /= math.sqrt(h)
                    starts[1::2, w_idx] = identity + self.IDENTITY_SPREAD * starts[1::2, w_idx]
                gain = float(np.max(np.abs(problem.targets[k]))) / cfg.amplitude
                scale = (levels / gain)[:, None]
                starts[:, u_idx] *= scale
                starts[:, v_idx] /= scale
                warm = self.initial_theta(k, note, rng)
                if warm is not None:
                    starts[0] = warm
            rows.append(starts)
            keys.append(np.full(self.starts, k))
        self.thetas = np.concatenate(rows)
        self.keys = np.concatenate(keys).astype(np.int64)
        count = len(self.keys)
        self.lambdas = np.full(count, self.LAMBDA0)
        self.losses = np.full(count, np.inf)
        self.fresh = np.zeros(count, dtype=np.uint8)
        # the first stage spans the same time at every rate (64 samples at 8 kHz: 8 ms)
        lengths, n = [], max(8, int(round(self.FIRST_LENGTH * cfg.rate / 8000.0)))
        while n <= cfg.length // 2:
            lengths.append(n)
            n *= 2
        lengths.append(cfg.length)
        self.schedule = [(length, self.FINAL_ITERATIONS if i == len(lengths) - 1
                          else max(self.STAGE_ITERATIONS, self.FIRST_STAGE_ITERATIONS >> i))
                         for i, length in enumerate(lengths)]
        self.carry = count * p_all * p_all * 8 <= self.CARRY_BYTES
        kept = count if self.carry else min(count, max(1, self.step_work // lengths[0]))  # the most a step runs
        self.jtjs = np.zeros((kept, p_all, p_all))
        self.jtrs = np.zeros((kept, p_all))
        self.stage, self.stage_done, self._cursor, self._measure_cursor = 0, 0, 0, 0
        self._plan = self._plan_steps()
        self._update_best()

    def _modal_bank(self, starts: np.ndarray, rng: np.random.Generator) -> None:
        """Random modal starts (S, P) in place (``u`` and ``v`` as ``rng.normal`` drew them): a bank of resonators
        spread over the band as piano keys are. The b-th of the n 2x2 blocks rotates by an angle drawn
        log-uniformly from the b-th of n equal parts (in log frequency) of ``MODAL_LOWEST`` .. pi radians a
        sample, so some block lies near any key's pole, at a radius 1 - 10^U(-3, -1) (0.9 .. 0.999); a last
        1x1 block decays by U(-0.9, 0.9)."""
        count, pairs = len(starts), self.hidden // 2
        octaves = math.log(math.pi / self.MODAL_LOWEST)
        for first, size, o in tk.modal_blocks(self.hidden):
            if size == 1:
                starts[:, o] = rng.uniform(-0.9, 0.9, size=count)
                continue
            angle = self.MODAL_LOWEST * np.exp(octaves * (first // 2 + rng.uniform(size=count)) / pairs)
            radius = 1.0 - 10.0 ** rng.uniform(-3.0, -1.0, size=count)
            c, s = radius * np.cos(angle), radius * np.sin(angle)
            starts[:, o:o + 4] = np.stack([c, -s, s, c], axis=1)

    @staticmethod
    def unit_cost(hidden: int, modal: bool) -> int:
        """About the operations of one sample of one LM iteration: the J^T J update (P^2) and the
        sensitivities (2 H^2 (H^2 + H) dense, 24 H modal)."""
        p_all = tk.n_params(hidden, modal)
        return p_all * p_all + (24 * hidden if modal else 2 * hidden * hidden * (hidden * hidden + hidden))

    def _nets_at(self, stage: int) -> int:
        """How many nets run in ``stage`` (each stage halves them, down to the finalists)."""
        per_key = self.starts
        for _ in range(stage):
            per_key = max(min(self.FINALISTS, per_key), per_key // 2)
        return per_key * len(self.config.notes)

    def _stage_steps(self, stage: int) -> int:
        """Steps ``stage`` takes at most: whole iterations of every net per step while they fit in
        ``step_work`` sample-iterations, else one iteration of the next rows per step."""
        length, iterations = self.schedule[stage]
        rows = self._nets_at(stage)
        if length * rows <= self.step_work:
            return -(-iterations // (self.step_work // (length * rows)))
        return iterations * -(-rows // max(1, self.step_work // length))

    def _plan_steps(self) -> int:
        """Number of steps of the whole schedule (at most)."""
        return sum(self._stage_steps(i) for i in range(len(self.schedule)))

    def default_steps(self) -> int:
        """Steps of the whole curriculum (fewer when the nets converge early)."""
        return self._plan

    @property
    def finished(self) -> bool:
        """The last stage is done."""
        return self.stage == len(self.schedule) - 1 and self.stage_done >= self.schedule[-1][1]

    @property
    def length(self) -> int:
        """Length (samples) of the current curriculum stage."""
        return self.schedule[self.stage][0]

    def step(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """About ``step_work`` sample-iterations of LM at the current length: a few iterations of every
        net, or one iteration of the next rows; at a stage's end, prune and lengthen."""
        length, iterations = self.schedule[self.stage]
        rows = len(self.thetas)
        if self._cursor == 0 and length * rows <= self.step_work:
            first, last = 0, rows
            count = min(self.step_work // (length * rows), iterations - self.stage_done)
        else:
            first, last = self._cursor, min(rows, self._cursor + max(1, self.step_work // length))
            count = 1
        part = slice(first, last)
        if self.carry:
            jtjs, jtrs, fresh = self.jtjs[part], self.jtrs[part], self.fresh[part]
        else:  # no normal equations kept: each row computes its own first (the same numbers as if kept)
            jtjs, jtrs = self.jtjs[:last - first], self.jtrs[:last - first]
            fresh = np.where(self.fresh[part] == 2, 2, 0).astype(np.uint8)
        tk.lm_steps(self.thetas[part], self.lambdas[part], self.keys[part], self.hidden, self.problem.x,
                    self.problem.targets, length, count, self.losses[part], jtjs, jtrs, fresh, self.TOL, self.modal)
        self.fresh[part] = fresh
        self._cursor = 0 if last == rows else last
        if self._cursor == 0:
            self.stage_done += count
        if np.all(self.fresh == 2):  # every net has converged at this length
            self.stage_done, self._cursor = iterations, 0
        touched = np.unique(self.keys[part])
        if self.stage_done >= iterations and self.stage + 1 < len(self.schedule):
            self._prune()
            self.stage += 1
            self.stage_done = 0
            self.fresh[:] = 0  # a longer target: new normal equations, bold steps again
            self.lambdas[:] = np.maximum(self.lambdas, self.LAMBDA0)
            touched = None
        self._update_best(touched)

    def _ranking(self, idx: np.ndarray, losses: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """``idx`` ordered best first: stable before unstable, then by loss (NaN last)."""
        bad = ~(radii[idx] < 1.0)
        loss = np.where(np.isfinite(losses[idx]), losses[idx], np.inf)
        return idx[np.lexsort((loss, bad))]

    def _prune(self) -> None:
        """Keep each key's better half, judged on the next stage's length (how well a fit extrapolates)."""
        radii = spectral_radii(self.thetas, self.hidden, self.modal)
        ahead = np.zeros(len(self.keys))
        tk.sse_many(self.thetas, self.keys, self.hidden, self.problem.x, self.problem.targets,
                    self.schedule[self.stage + 1][0], ahead, self.modal)
        keep = []
        for k in range(len(self.config.notes)):
            idx = np.flatnonzero(self.keys == k)
            order = self._ranking(idx, ahead, radii)
            keep.append(order[:max(min(self.FINALISTS, len(order)), len(order) // 2)])
        keep = np.concatenate(keep)
        for name in ("thetas", "keys", "lambdas", "losses", "fresh") + (("jtjs", "jtrs") if self.carry else ()):
            setattr(self, name, getattr(self, name)[keep].copy())

    def _update_best(self, keys: np.ndarray | None = None) -> None:
        """Choose the best net at the current stage (stable nets first) of ``keys`` (None: every key), and
        measure the whole-target loss of about ``step_work / 4`` samples' worth of keys, in turn (all of
        them at a stage's end and at the finish): progress shows each key's loss as last measured."""
        every = np.arange(len(self.config.notes))
        measure_all = keys is None
        keys = every if keys is None else keys
        radii = np.full(len(self.thetas), np.inf)
        rows = np.flatnonzero(np.isin(self.keys, keys))
        radii[rows] = spectral_radii(self.thetas[rows], self.hidden, self.modal)
        for k in keys:
            self.best[k] = self.thetas[self._ranking(np.flatnonzero(self.keys == k), self.losses, radii)[0]]
        if measure_all or self.finished:
            measure = every
        else:
            n = max(1, min(len(every), self.step_work // (4 * self.config.length)))
            measure = (self._measure_cursor + np.arange(n)) % len(every)
            self._measure_cursor = int(measure[-1] + 1) % len(every)
        losses = np.zeros(len(measure))
        tk.sse_many(self.best[measure], measure, self.hidden, self.problem.x, self.problem.targets,
                    self.config.length, losses, self.modal)
        self.best_loss[measure] = losses

    def full_losses(self) -> np.ndarray:
        """Whole-target loss of each key's chosen net, as last measured (all of them at the finish)."""
        return self.best_loss.copy()
