"""Differentiable EMD between batches of jets: entropic optimal transport (Sinkhorn) in torch.

The exact EMD (:mod:`jetgeom_lite.emd`) is a linear program: fast on a CPU, but it gives no
gradient and runs one pair at a time. A VAE needs a distance it can differentiate, for a batch,
on a GPU. Entropic transport (Cuturi 2013) adds ``eps`` times the plan's entropy to the cost;
the plan becomes

    T_ij = exp((f_i + g_j - C_ij) / eps),    C_ij = (theta_ij / R)**beta,

with potentials ``f, g`` found by alternating the two marginal constraints (Sinkhorn's
iterations), and everything is smooth. What is returned is the transport cost of that plan,
``sum_ij T_ij C_ij``, the quantity the exact EMD minimises (not the entropic objective, which
adds ``-eps * entropy``); as ``eps -> 0`` it tends to the exact EMD.

As in :func:`jetgeom_lite.emd.emd`, jets with different pT sums are matched with one extra
particle per jet that carries the difference at ground distance 1, so the value includes the
``|sum pT - sum pT'|`` term of energyflow's convention.

How it is computed, and why:

* eps-scaling: ``eps`` starts large (a blurred, easy problem) and halves each iteration down to
  the target, each stage warm-started from the last (Kosowsky and Yuille 1994, Schmitzer 2019);
  at small ``eps`` far fewer iterations are needed than from a cold start.
* log-stabilised scaling (Schmitzer 2019): the potentials are kept in the log domain and
  absorbed into the kernel ``exp((f_i + g_j - C_ij) / eps)`` at each change of ``eps`` (and
  every few iterations), so no exponential overflows or underflows even at ``eps = 0.005``,
  while each iteration costs two batched matrix-vector products rather than two
  log-sum-exps.
* gradients: ``gradient="unrolled"`` differentiates through every iteration (run in the log
  domain, where every step has a bounded derivative): the exact derivative of the returned
  value, at several times the time and memory. ``gradient="last"`` runs the iterations without
  autograd and returns the envelope-theorem gradient: the plan ``T`` and the potentials are
  held at their converged values, so the gradient is ``sum_j T_ij dC_ij`` for particle
  positions and the potentials ``f``, ``g`` for pT, the same form as the exact EMD's own
  gradient, and it tends to it as ``eps -> 0``. It costs one product with the plan, nothing
  per iteration. It is not the derivative of the returned cost (which has an extra
  ``eps dH(T)`` term): on real W jets the position gradients of both modes agree with the
  exact EMD's to a cosine of 0.99 at ``eps <= 0.05`` (``tests/test_sinkhorn.py``).
* CPU detail: the products ``K v`` are taken as ``v^T K^T`` through a transposed view; torch's
  batched matrix-vector kernel was ~8 times slower for the shapes of a training batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._validation import check_bool, check_choice, check_float_dtype, check_integer, check_number, check_positive

__all__ = ["sinkhorn_emd", "ground_cost"]

# Kernel entries below exp(-60) (float32) are floored: they carry no mass that matters (1e-26
# of the largest), and denormal floats would make the matrix products many times slower.
_LOG_FLOOR = {torch.float32: -60.0, torch.float64: -600.0}
# Potentials are re-absorbed into the kernel at least this often at a fixed eps.
_ABSORB_EVERY = 10
# Ground cost that keeps padded particles out of the plan: exp(-1e4 / eps) is exactly 0.
_FAR = 1.0e4


def _as_batch(jets: Any, name: str) -> tuple[torch.Tensor, bool]:
    """A (B, M, 3) floating tensor, and whether a single (M, 3) jet was given."""
    if isinstance(jets, (str, bytes, dict)) or jets is None:
        raise TypeError(f"{name} must be a torch tensor (or array) of shape (B, M, 3); got {type(jets).__name__}")
    if not isinstance(jets, torch.Tensor):
        try:
            jets = torch.as_tensor(np.asarray(jets, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a numeric tensor of shape (B, M, 3)") from None
    if not torch.is_floating_point(jets):
        jets = jets.to(torch.get_default_dtype())
    # float16/bfloat16: exp(-C / eps) underflows and the pT sums lose their digits; the result
    # was a silent NaN. Refuse them with the fix.
    check_float_dtype(jets.dtype, name)
    single = jets.dim() == 2
    if single:
        jets = jets.unsqueeze(0)
    if jets.dim() != 3 or jets.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (B, M, 3) (or (M, 3) for one jet), rows (pT, y, phi); "
                         f"got {tuple(jets.shape)}")
    if jets.shape[0] == 0 or jets.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(jets.shape)}")
    return jets, single


def _mask_for(mask: Any, jets: torch.Tensor, single: bool, name: str) -> torch.Tensor:
    if mask is None:
        return jets[..., 0] > 0
    if not isinstance(mask, torch.Tensor):
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"{name} must be boolean (True for real particles); got dtype {mask.dtype}")
    mask = torch.as_tensor(mask, device=jets.device)
    if mask.dtype != torch.bool:
        raise TypeError(f"{name} must be boolean (True for real particles); got dtype {mask.dtype}")
    if single and mask.dim() == 1:
        mask = mask.unsqueeze(0)
    if mask.shape != jets.shape[:2]:
        raise ValueError(f"{name} must have shape {tuple(jets.shape[:2])} to match the particles; "
                         f"got {tuple(mask.shape)}")
    return mask.bool()



def _log_domain_update(potential: torch.Tensor, log_weight: torch.Tensor, cost: torch.Tensor, on: torch.Tensor,
                       eps: float, dim: int) -> torch.Tensor:
    """One marginal constraint in the log domain: f_i = eps log a_i - eps LSE_j((g_j - C_ij) / eps)."""
    spread = potential[:, None, :] if dim == 2 else potential[:, :, None]
    new = eps * log_weight - eps * torch.logsumexp((spread - cost) / eps, dim=dim)
    return torch.where(on, new, torch.zeros_like(new))


def _log_domain_iterations(cost: torch.Tensor, log_a: torch.Tensor, log_b: torch.Tensor, on_a: torch.Tensor,
                           on_b: torch.Tensor, schedule: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sinkhorn in the log domain: slower than scaling, but every step has a bounded derivative."""
    f, g = torch.zeros_like(log_a), torch.zeros_like(log_b)
    for eps in schedule:
        f = _log_domain_update(g, log_a, cost, on_a, eps, dim=2)
        g = _log_domain_update(f, log_b, cost, on_b, eps, dim=1)
    return f, g


def _stabilised_scaling(cost: torch.Tensor, a: torch.Tensor, b: torch.Tensor, on_a: torch.Tensor,
                        on_b: torch.Tensor, schedule: list[float], floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Sinkhorn with scalings u, v on a kernel that absorbs the log-domain potentials f, g.

    T_ij = u_i K_ij v_j with K_ij = exp((f_i + g_j - C_ij) / eps); u and v are folded into f and
    g (f += eps log u) whenever eps changes and every few iterations, so K stays within the
    floating-point range. No autograd: the caller differentiates a final log-domain sweep.
    """
    f, g = torch.zeros_like(a), torch.zeros_like(b)
    one_a, one_b = torch.ones_like(a), torch.ones_like(b)
    u, v, kernel = one_a, one_b, None
    current, since_absorb = None, 0
    for eps in schedule:
        if eps != current or since_absorb == _ABSORB_EVERY:
            if current is not None:
                f = torch.where(on_a, f + current * torch.log(torch.where(on_a, u, one_a)), f)
                g = torch.where(on_b, g + current * torch.log(torch.where(on_b, v, one_b)), g)
            current, since_absorb = eps, 0
            kernel = torch.exp(((f[:, :, None] + g[:, None, :] - cost) / current).clamp_min(floor))
            v = one_b
        # The floor keeps the row sums of real particles positive; empty slots divide by 1.
        # K v as v^T K^T: torch's batched matrix-vector kernel (K @ v) is ~8x slower on a CPU
        # than the row-vector product through a transposed view (measured, batch 256 x 51 x 51)
        u = a / torch.where(on_a, torch.bmm(v[:, None, :], kernel.transpose(1, 2))[:, 0], one_a)
        v = b / torch.where(on_b, torch.bmm(u[:, None, :], kernel)[:, 0], one_b)
        since_absorb += 1
    f = torch.where(on_a, f + current * torch.log(torch.where(on_a, u, one_a)), f)
    g = torch.where(on_b, g + current * torch.log(torch.where(on_b, v, one_b)), g)
    return f, g


def ground_cost(jets_a: torch.Tensor, jets_b: torch.Tensor, *, R: float = 0.8, beta: float = 1.0) -> torch.Tensor:
    """Ground distances ``(theta_ij / R)**beta`` between the particles of paired jets.

    Parameters
    ----------
    jets_a, jets_b : Tensor, shapes (B, M, 3) and (B, M', 3)
        Rows ``(pT, y, phi)``; only ``y`` and ``phi`` are used, phi the shorter way round.
    R, beta : float
        Angular scale (radians) and exponent.

    Returns
    -------
    Tensor, shape (B, M, M')
        Dimensionless; differentiable everywhere, with gradient 0 where two particles coincide.

    Examples
    --------
    >>> a = torch.tensor([[[1.0, 0.0, 3.1]]]); b = torch.tensor([[[1.0, 0.0, -3.1]]])
    >>> round(float(ground_cost(a, b, R=1.0)), 4)      # 2 pi - 6.2, not 6.2
    0.0832
    """
    R, beta = check_positive(R, "R", example="0.8"), check_positive(beta, "beta")
    dy = jets_a[:, :, None, 1] - jets_b[:, None, :, 1]
    dphi = torch.remainder(jets_a[:, :, None, 2] - jets_b[:, None, :, 2] + math.pi, 2 * math.pi) - math.pi
    squared = dy * dy + dphi * dphi
    apart = squared > 0
    # sqrt (and a power below 1) has an infinite slope at 0: evaluate it only where it is smooth
    safe = torch.where(apart, squared, torch.ones_like(squared))
    theta = torch.sqrt(safe) / R
    if beta != 1.0:
        theta = theta ** beta
    return torch.where(apart, theta, torch.zeros_like(theta))


def sinkhorn_emd(jets_a: Any, jets_b: Any, mask_a: Any = None, mask_b: Any = None, *, R: float = 0.8,
                 beta: float = 1.0, norm: bool = False, eps: float = 0.02, n_iterations: int = 30,
                 eps_start: float | None = 1.0, eps_decay: float = 0.5, gradient: str = "last",
                 return_plan: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Entropic-transport estimate of the EMD for a batch of jet pairs, differentiable.

        cost = sum_ij T_ij C_ij,   T = argmin_T <T, C> - eps H(T)  with the jets' pT as marginals

    Parameters
    ----------
    jets_a, jets_b : Tensor, shapes (B, M, 3) and (B, M', 3) (or (M, 3) and (M', 3))
        Pairs ``(jets_a[k], jets_b[k])``, rows ``(pT, y, phi)``. Float32 or float64, on any
        device (the result lives there too); float16 is refused (it gives NaN).
    mask_a, mask_b : Tensor of bool, shapes (B, M) and (B, M'), optional
        True for real particles; rows outside the mask are never read (they may hold NaN).
        Without a mask, rows with pT = 0 are padding and every row must be finite: the
        package's one mask rule, as in :func:`jetgeom_lite.emd.emd`.
    R, beta, norm
        As in :func:`jetgeom_lite.emd.emd`: ground distance ``(theta / R)**beta``; ``norm``
        divides each jet's pT by its sum.
    eps : float
        Target regularisation, in units of the ground distance (of ``R`` for ``beta = 1``).
        Smaller is closer to the exact EMD and needs more iterations.
    n_iterations : int
        Sinkhorn iterations in all (each updates ``f`` and ``g`` once).
    eps_start : float or None
        First ``eps`` of the annealing; each iteration multiplies it by ``eps_decay`` until it
        reaches ``eps``. ``None``: every iteration at ``eps``.
    eps_decay : float
        Annealing factor per iteration, between 0 and 1.
    gradient : {"last", "unrolled"}
        "last": the gradient of the entropic objective through one final sweep (the
        envelope-theorem gradient, cheap; see the module notes); "unrolled": the exact
        derivative of the returned cost through all iterations (slower, more memory).
    return_plan : bool
        Also return the plans ``T`` between real particles, shape (B, M, M').

    Returns
    -------
    Tensor, shape (B,) (or a 0-d tensor for single jets)
        Transport cost per pair, in the unit of pT (GeV, or a fraction with ``norm``),
        including ``|sum pT - sum pT'|``.

    Raises
    ------
    TypeError, ValueError
        Wrong shapes or types, NaN or inf, negative pT, a jet with no particle, inputs on two
        devices, non-positive ``R``, ``beta`` or ``eps``, an unknown ``gradient`` mode.

    Examples
    --------
    >>> a = torch.tensor([[100.0, 0.0, 0.0]]); b = torch.tensor([[100.0, 0.0, 0.4]])
    >>> round(float(sinkhorn_emd(a, b, R=0.8)), 3)     # exact: 100 * 0.4 / 0.8
    50.0
    >>> x = torch.rand(8, 30, 3, dtype=torch.float64, requires_grad=True)
    >>> sinkhorn_emd(x, torch.rand(8, 20, 3, dtype=torch.float64), norm=True).sum().backward()
    >>> bool(torch.isfinite(x.grad).all())
    True
    """
    R, beta = check_positive(R, "R", example="0.8"), check_positive(beta, "beta")
    eps = check_positive(eps, "eps", example="0.02")
    n_iterations = check_integer(n_iterations, "n_iterations", minimum=1, example="30")
    if eps_start is not None:
        eps_start = check_positive(eps_start, "eps_start")
    eps_decay = check_number(eps_decay, "eps_decay", low=0.0, high=1.0, low_open=True, high_open=True,
                             example="0.5")
    check_choice(gradient, "gradient", ("last", "unrolled"))
    norm, return_plan = check_bool(norm, "norm"), check_bool(return_plan, "return_plan")

    xa, single_a = _as_batch(jets_a, "jets_a")
    xb, single_b = _as_batch(jets_b, "jets_b")
    if single_a != single_b:
        raise ValueError("pass two single jets (M, 3) or two batches (B, M, 3), not one of each")
    if xa.device != xb.device:
        raise ValueError(f"jets_a is on {xa.device} and jets_b on {xb.device}; move both to one device")
    if xa.shape[0] != xb.shape[0]:
        raise ValueError(f"the batches must pair up: jets_a has {xa.shape[0]} jets, jets_b {xb.shape[0]}")
    dtype = torch.promote_types(xa.dtype, xb.dtype)
    xa, xb = xa.to(dtype), xb.to(dtype)
    valid_a = _mask_for(mask_a, xa, single_a, "mask_a")
    valid_b = _mask_for(mask_b, xb, single_b, "mask_b")
    checked = []
    for name, x, valid, given in (("jets_a", xa, valid_a, mask_a), ("jets_b", xb, valid_b, mask_b)):
        finite = torch.isfinite(x.detach()).all(dim=-1)
        if given is None and not bool(finite.all()):
            raise ValueError(f"{name} contains NaN or inf and no mask says which rows are padding; fix the "
                             "particles, or pass the mask (True for real particles) so padding rows are ignored")
        if not bool(finite[valid].all()):
            raise ValueError(f"{name} has NaN or inf in a real (masked-in) particle; every real particle needs "
                             "finite (pT, y, phi)")
        if given is not None and not bool(finite.all()):
            # padding rows are never read: make them zeros so that no NaN reaches the arithmetic
            x = torch.where(valid[..., None], x, torch.zeros_like(x))
        checked.append(x)
        negative = x.detach()[..., 0] < 0
        if bool((negative if given is None else negative & valid).any()):
            raise ValueError(f"{name} has negative pT; pT must be >= 0 (zero-pT rows count as padding)")
        empty = ~((x.detach()[..., 0] > 0) & valid).any(dim=1)
        if bool(empty.any()):
            raise ValueError(f"{name} has jets with no particle of pT > 0 (batch indices "
                             f"{torch.nonzero(empty).flatten()[:5].tolist()}); remove empty jets")
    xa, xb = checked

    # Padding at the end of every jet in the batch costs time and nothing else: drop it.
    width_a, width_b = xa.shape[1], xb.shape[1]
    keep_a = int(torch.nonzero(valid_a.any(dim=0)).max()) + 1
    keep_b = int(torch.nonzero(valid_b.any(dim=0)).max()) + 1
    xa, valid_a, xb, valid_b = xa[:, :keep_a], valid_a[:, :keep_a], xb[:, :keep_b], valid_b[:, :keep_b]

    pt_a = torch.where(valid_a, xa[..., 0], torch.zeros_like(xa[..., 0]))
    pt_b = torch.where(valid_b, xb[..., 0], torch.zeros_like(xb[..., 0]))
    if norm:
        pt_a = pt_a / pt_a.sum(dim=1, keepdim=True)
        pt_b = pt_b / pt_b.sum(dim=1, keepdim=True)
    total_a, total_b = pt_a.sum(dim=1), pt_b.sum(dim=1)
    # one extra particle per jet for the pT difference (weight zero on the larger jet)
    a = torch.cat([pt_a, (total_b - total_a).clamp_min(0)[:, None]], dim=1)
    b = torch.cat([pt_b, (total_a - total_b).clamp_min(0)[:, None]], dim=1)
    on_a, on_b = a > 0, b > 0
    batch, n_a, n_b = a.shape[0], a.shape[1], b.shape[1]
    cost = torch.ones(batch, n_a, n_b, dtype=dtype, device=xa.device)
    cost[:, :-1, :-1] = 0.0
    cost = cost + torch.nn.functional.pad(ground_cost(xa, xb, R=R, beta=beta), (0, 1, 0, 1))
    cost[:, -1, -1] = 0.0
    masked_cost = cost.masked_fill(~(on_a[:, :, None] & on_b[:, None, :]), _FAR)
    log_a = torch.where(on_a, torch.log(torch.where(on_a, a, torch.ones_like(a))), torch.zeros_like(a))
    log_b = torch.where(on_b, torch.log(torch.where(on_b, b, torch.ones_like(b))), torch.zeros_like(b))
    floor = _LOG_FLOOR.get(dtype, -60.0)

    schedule = [eps] * int(n_iterations) if eps_start is None else \
        [max(eps, eps_start * eps_decay ** k) for k in range(int(n_iterations))]
    if schedule[-1] != eps:
        needed = math.ceil(math.log(eps / eps_start) / math.log(eps_decay)) + 1
        raise ValueError(f"n_iterations={n_iterations} is too few to anneal eps from {eps_start} to {eps} by a factor "
                         f"{eps_decay} per iteration; use n_iterations > {needed}, a larger eps_decay or "
                         "eps_start=None")
    if gradient == "unrolled" and torch.is_grad_enabled():
        f, g = _log_domain_iterations(masked_cost, log_a, log_b, on_a, on_b, schedule)
    else:
        with torch.no_grad():
            f, g = _stabilised_scaling(masked_cost, a, b, on_a, on_b, schedule, floor)

    if gradient == "last":
        # The value is the transport cost of the plan; its gradient is the envelope-theorem one
        # (plan and potentials held fixed at the optimum): T_ij for the ground cost, hence
        # sum_j T_ij dC_ij for positions, and the potentials f, g for the pT weights, as for
        # the exact EMD. Written as a surrogate: no autograd runs through the iterations.
        exponent = (f[:, :, None] + g[:, None, :] - masked_cost.detach()) / eps
        plan = torch.exp(exponent.clamp_min(floor)).masked_fill(exponent < floor, 0.0)
        value = (plan * cost.detach()).sum(dim=(1, 2))
        if torch.is_grad_enabled() and (cost.requires_grad or a.requires_grad or b.requires_grad):
            surrogate = (plan * cost).sum(dim=(1, 2)) + (a * f).sum(dim=1) + (b * g).sum(dim=1)
            value = value + surrogate - surrogate.detach()
    else:
        exponent = (f[:, :, None] + g[:, None, :] - masked_cost) / eps
        plan = torch.exp(exponent.clamp_min(floor)).masked_fill(exponent < floor, 0.0)
        value = (plan * cost).sum(dim=(1, 2))
    if single_a:
        value = value[0]
    if not return_plan:
        return value
    real_plan = torch.nn.functional.pad(plan[:, :-1, :-1], (0, width_b - keep_b, 0, width_a - keep_a))
    return value, (real_plan[0] if single_a else real_plan)
