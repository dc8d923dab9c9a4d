"""Tests for jetgeom_lite.sinkhorn: accuracy against the exact EMD, padding, gradients, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jetgeom_lite.emd import emd
from jetgeom_lite.sinkhorn import ground_cost, sinkhorn_emd


def jet_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two prongs with collinear spray and a soft halo, pT normalised to 1 (micro-jet-like)."""
    angle, separation = rng.uniform(0, 2 * math.pi), rng.uniform(0.1, 0.4)
    prong = rng.random(n) < 0.5
    offset = 0.5 * separation * np.array([math.cos(angle), math.sin(angle)])
    position = np.where(prong[:, None], offset, -offset) + rng.normal(0, 0.05, (n, 2))
    halo = rng.random(n) < 0.2
    position[halo] = rng.normal(0, 0.3, (halo.sum(), 2))
    pt = rng.exponential(1.0, n) * np.where(halo, 0.1, 1.0)
    return np.column_stack([pt / pt.sum(), position])


def padded_batch(jets: list[np.ndarray], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    width = width or max(len(j) for j in jets)
    particles = torch.zeros(len(jets), width, 3, dtype=torch.float64)
    mask = torch.zeros(len(jets), width, dtype=torch.bool)
    for k, jet in enumerate(jets):
        particles[k, : len(jet)] = torch.from_numpy(jet)
        mask[k, : len(jet)] = True
    return particles, mask


@pytest.fixture(scope="module")
def pairs() -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(2)
    left = [jet_like(rng, int(rng.integers(6, 30))) for _ in range(40)]
    right = [jet_like(rng, int(rng.integers(6, 30))) for _ in range(40)]
    exact = np.array([emd(a, b, R=0.8) for a, b in zip(left, right)])
    return left, right, exact


# ---------------------------------------------------------------------------- values


def test_single_particles_give_the_exact_answer():
    a = torch.tensor([[100.0, 0.0, 0.0]], dtype=torch.float64)
    moved = torch.tensor([[100.0, 0.3, -0.4]], dtype=torch.float64)
    assert float(sinkhorn_emd(a, moved, R=0.8)) == pytest.approx(100.0 * 0.5 / 0.8, rel=1e-9)
    # unequal totals: 60 GeV stay, 40 GeV are unmatched; then 60 move by 0.4 / 0.8
    lighter = torch.tensor([[60.0, 0.0, 0.0]], dtype=torch.float64)
    assert float(sinkhorn_emd(a, lighter)) == pytest.approx(40.0, rel=1e-9)
    lighter_moved = torch.tensor([[60.0, 0.0, 0.4]], dtype=torch.float64)
    assert float(sinkhorn_emd(a, lighter_moved)) == pytest.approx(70.0, rel=1e-9)
    assert float(sinkhorn_emd(lighter_moved, a)) == pytest.approx(70.0, rel=1e-9)


def test_converges_to_the_exact_emd_as_eps_falls(pairs):
    left, right, exact = pairs
    xa, ma = padded_batch(left)
    xb, mb = padded_batch(right)
    errors = []
    for eps, n_iterations in [(0.2, 40), (0.05, 60), (0.01, 200)]:
        values = sinkhorn_emd(xa, xb, ma, mb, R=0.8, eps=eps, n_iterations=n_iterations).numpy()
        errors.append(np.median(np.abs(values / exact - 1)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02
    # the entropic plan is blurred, so its cost lies above the optimum (up to marginal slack)
    values = sinkhorn_emd(xa, xb, ma, mb, eps=0.05, n_iterations=100).numpy()
    assert np.all(values > exact * (1 - 1e-3))


def test_batches_masks_and_padding_do_not_change_values(pairs):
    left, right, _ = pairs
    xa, ma = padded_batch(left[:6], width=40)
    xb, mb = padded_batch(right[:6], width=35)
    batched = sinkhorn_emd(xa, xb, ma, mb, eps=0.03)
    one_by_one = torch.stack([sinkhorn_emd(torch.from_numpy(a), torch.from_numpy(b), eps=0.03)
                              for a, b in zip(left[:6], right[:6])])
    torch.testing.assert_close(batched, one_by_one, rtol=1e-9, atol=0)
    # zero-pT rows need no mask; masked rows may hold anything finite
    torch.testing.assert_close(sinkhorn_emd(xa, xb, eps=0.03), batched, rtol=1e-12, atol=0)
    junk = xa.clone()
    junk[~ma] = torch.tensor([5.0, 1.0, -2.0], dtype=torch.float64)
    torch.testing.assert_close(sinkhorn_emd(junk, xb, ma, mb, eps=0.03), batched, rtol=1e-12, atol=0)


def test_roughly_symmetric_and_phi_wrapped(pairs):
    left, right, exact = pairs
    xa, ma = padded_batch(left[:10])
    xb, mb = padded_batch(right[:10])
    forward = sinkhorn_emd(xa, xb, ma, mb, eps=0.02, n_iterations=100)
    backward = sinkhorn_emd(xb, xa, mb, ma, eps=0.02, n_iterations=100)
    torch.testing.assert_close(forward, backward, rtol=2e-3, atol=0)
    # both jets moved next to phi = pi: some particles wrap to -pi, nothing changes
    shifted_a, shifted_b = xa.clone(), xb.clone()
    for shifted in (shifted_a, shifted_b):
        shifted[..., 2] = torch.remainder(shifted[..., 2] + math.pi - 0.05 + math.pi, 2 * math.pi) - math.pi
    assert bool((shifted_a[..., 2][ma] < 0).any() and (shifted_a[..., 2][ma] > 0).any())
    torch.testing.assert_close(sinkhorn_emd(shifted_a, shifted_b, ma, mb, eps=0.02, n_iterations=100), forward,
                               rtol=1e-9, atol=0)


def test_plan_has_the_jets_as_marginals(pairs):
    left, right, _ = pairs
    xa, ma = padded_batch(left[:4])
    xb, mb = padded_batch(right[:4])
    value, plan = sinkhorn_emd(xa, xb, ma, mb, eps=0.02, n_iterations=200, return_plan=True)
    assert plan.shape == (4, xa.shape[1], xb.shape[1])
    assert bool((plan >= 0).all()) and bool((plan[~ma] == 0).all())
    torch.testing.assert_close(plan.sum(dim=1), xb[..., 0], atol=1e-9, rtol=0)   # columns: exact
    torch.testing.assert_close(plan.sum(dim=2), xa[..., 0], atol=1e-3, rtol=0)   # rows: converged
    torch.testing.assert_close(value, (plan * ground_cost(xa, xb)).sum(dim=(1, 2)), rtol=1e-6, atol=1e-9)


def test_float32_stays_float32(pairs):
    left, right, exact = pairs
    xa, ma = padded_batch(left)
    xb, mb = padded_batch(right)
    values = sinkhorn_emd(xa.float(), xb.float(), ma, mb, eps=0.02, n_iterations=30)
    assert values.dtype == torch.float32
    torch.testing.assert_close(values.double(), sinkhorn_emd(xa, xb, ma, mb, eps=0.02, n_iterations=30),
                               rtol=1e-4, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(pairs):
    left, right, _ = pairs
    xa, ma = padded_batch(left[:8])
    xb, mb = padded_batch(right[:8])
    on_gpu = sinkhorn_emd(xa.cuda(), xb.cuda(), ma.cuda(), mb.cuda(), eps=0.02)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), sinkhorn_emd(xa, xb, ma, mb, eps=0.02), rtol=1e-9, atol=0)


# ---------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("gradient", ["last", "unrolled"])
@pytest.mark.parametrize("norm", [False, True])
def test_no_nan_with_padding_at_the_smallest_eps(pairs, dtype, gradient, norm):
    left, right, _ = pairs
    xa, ma = padded_batch(left[:8], width=50)
    xb, mb = padded_batch(right[:8], width=50)
    xa = (xa * torch.tensor([500.0, 1.0, 1.0], dtype=torch.float64)).to(dtype).requires_grad_(True)
    xb = xb.to(dtype).requires_grad_(True)  # 1 against 500 "GeV": large unmatched pT
    values = sinkhorn_emd(xa, xb, ma, mb, eps=0.005, n_iterations=40, gradient=gradient, norm=norm)
    values.sum().backward()
    assert bool(torch.isfinite(values).all())
    assert bool(torch.isfinite(xa.grad).all()) and bool(torch.isfinite(xb.grad).all())
    assert bool((xa.grad[~ma] == 0).all())  # padding gets no gradient


# ---------------------------------------------------------------------------- gradients


def test_gradcheck_unrolled():
    rng = np.random.default_rng(4)
    a = torch.tensor(jet_like(rng, 3) * [2.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(jet_like(rng, 4), dtype=torch.float64, requires_grad=True)

    def value(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sinkhorn_emd(x, y, R=0.8, eps=0.1, n_iterations=15, gradient="unrolled")

    assert torch.autograd.gradcheck(value, (a, b), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_last_sweep_where_the_plan_is_fixed():
    # One particle against three: the plan is set by the marginals, so the envelope gradient
    # of the last sweep is the exact derivative of the cost with respect to the positions.
    pt_a = torch.tensor([[1.0]], dtype=torch.float64)
    pt_b = torch.tensor([[0.5], [0.3], [0.2]], dtype=torch.float64)
    where_a = torch.tensor([[0.05, -0.1]], dtype=torch.float64, requires_grad=True)
    where_b = torch.tensor([[0.2, 0.1], [-0.3, 0.0], [0.1, -0.25]], dtype=torch.float64, requires_grad=True)

    def value(position_a: torch.Tensor, position_b: torch.Tensor) -> torch.Tensor:
        return sinkhorn_emd(torch.cat([pt_a, position_a], 1), torch.cat([pt_b, position_b], 1), eps=0.05,
                            n_iterations=20, gradient="last")

    assert torch.autograd.gradcheck(value, (where_a, where_b), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_last_sweep_gradient_is_that_of_the_entropic_objective(pairs):
    """At convergence, 'last' gives the derivative of <T, C> - eps H(T), H = -sum T (log T - 1)."""
    left, right, _ = pairs
    a = torch.from_numpy(left[3]).clone().requires_grad_(True)
    b = torch.from_numpy(right[3])
    eps = 0.05
    settings = dict(eps=eps, n_iterations=300, norm=True)

    def objective(x: torch.Tensor) -> float:
        value, plan = sinkhorn_emd(x, b, return_plan=True, **settings)
        positive = plan[plan > 0]
        return float(value + eps * (positive * (torch.log(positive) - 1)).sum())

    sinkhorn_emd(a, b, gradient="last", **settings).backward()
    step = 1e-5
    # pT (through the normalisation), then the positions
    for columns, tolerance in (([0], 1e-4), ([1, 2], 1e-6)):
        direction = torch.zeros_like(a)
        direction[:, columns] = torch.from_numpy(np.random.default_rng(5).normal(size=(len(a), len(columns))))
        with torch.no_grad():
            numeric = (objective(a + step * direction) - objective(a - step * direction)) / (2 * step)
        assert float((a.grad * direction).sum()) == pytest.approx(numeric, rel=tolerance)
        # and not the derivative of the returned cost itself
        with torch.no_grad():
            cost_slope = (sinkhorn_emd(a + step * direction, b, **settings)
                          - sinkhorn_emd(a - step * direction, b, **settings)) / (2 * step)
        assert abs(float(cost_slope) - numeric) > 100 * tolerance * abs(numeric)


def test_position_gradients_agree_with_the_exact_emd(pairs):
    left, right, _ = pairs
    for gradient in ("last", "unrolled"):
        exact_grads, sinkhorn_grads = [], []
        for a_np, b_np in zip(left[:8], right[:8]):
            _, flow = emd(a_np, b_np, R=0.8, return_plan=True)
            a = torch.from_numpy(a_np).clone().requires_grad_(True)
            (torch.from_numpy(flow) * ground_cost(a[None], torch.from_numpy(b_np)[None])[0]).sum().backward()
            exact_grads.append(a.grad[:, 1:].flatten())
            a = torch.from_numpy(a_np).clone().requires_grad_(True)
            sinkhorn_emd(a, torch.from_numpy(b_np), eps=0.02, n_iterations=60, gradient=gradient).backward()
            sinkhorn_grads.append(a.grad[:, 1:].flatten())
        cosine = torch.nn.functional.cosine_similarity(torch.cat(exact_grads), torch.cat(sinkhorn_grads), dim=0)
        assert float(cosine) > 0.98, gradient


# ---------------------------------------------------------------------------- bad input


GOOD = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.1, 0.1]]], dtype=torch.float64)


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([[[1.0, float("nan"), 0.0]]]), "NaN"),
    (torch.tensor([[[float("inf"), 0.0, 0.0]]]), "inf"),
    (torch.tensor([[[1.0, 0.0, 0.0], [-0.2, 0.0, 0.0]]]), "negative pT"),
    (torch.zeros(1, 3, 3), "no particle"),
    (torch.ones(1, 3, 2), r"shape \(B, M, 3\)"),
    (torch.ones(3), r"shape \(B, M, 3\)"),
    (torch.ones(1, 0, 3), "empty"),
    (torch.ones(2, 3, 3), "pair up"),
])
def test_bad_jets_are_refused_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        sinkhorn_emd(bad, GOOD)
    with pytest.raises(ValueError, match=message):
        sinkhorn_emd(GOOD, bad)


@pytest.mark.parametrize("settings, message", [
    (dict(eps=0.0), "eps must be positive"),
    (dict(eps=-0.01), "eps must be positive"),
    (dict(R=0.0), "R must be positive"),
    (dict(beta=-1.0), "beta must be positive"),
    (dict(n_iterations=0), "n_iterations"),
    (dict(eps_decay=1.0), "eps_decay"),
    (dict(gradient="implicit"), "gradient must be"),
    (dict(eps=0.001, n_iterations=5), "too few"),
])
def test_bad_settings_are_refused_clearly(settings, message):
    with pytest.raises(ValueError, match=message):
        sinkhorn_emd(GOOD, GOOD, **settings)


def test_other_bad_calls():
    with pytest.raises(ValueError, match="mask_a must have shape"):
        sinkhorn_emd(GOOD, GOOD, mask_a=torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="single jets"):
        sinkhorn_emd(GOOD[0], GOOD)
    with pytest.raises(TypeError, match="jets_a"):
        sinkhorn_emd("jets", GOOD)
    with pytest.raises(TypeError, match="eps must be"):
        sinkhorn_emd(GOOD, GOOD, eps="small")
    # arrays are accepted as well as tensors
    assert float(sinkhorn_emd(GOOD.numpy(), GOOD.numpy())) == pytest.approx(0.0, abs=1e-3)


# ---------------------------------------------------------------------------- issue 12: half precision, masks


def test_float16_jets_are_refused_instead_of_a_silent_nan(pairs):
    left, right, _ = pairs
    a, mask_a = padded_batch(left[:4])
    b, mask_b = padded_batch(right[:4])
    for half in (torch.float16, torch.bfloat16):
        with pytest.raises(TypeError, match=f"{str(half).replace('torch.', '')}.*float32"):
            sinkhorn_emd(a.to(half), b, mask_a, mask_b)
        with pytest.raises(TypeError, match="jets_b has dtype"):
            sinkhorn_emd(a, b.to(half), mask_a, mask_b)
    # what the message asks for works: cast to float32
    value = sinkhorn_emd(a.to(torch.float16).float(), b.float(), mask_a, mask_b)
    assert bool(torch.isfinite(value).all())


def test_masked_out_rows_are_never_read(pairs):
    """The one mask rule: padding outside the mask may hold NaN; the values do not change."""
    left, right, _ = pairs
    a, mask_a = padded_batch(left[:6], width=35)
    b, mask_b = padded_batch(right[:6], width=35)
    clean = sinkhorn_emd(a, b, mask_a, mask_b, R=0.8)
    junk = a.clone()
    junk[~mask_a] = float("nan")
    torch.testing.assert_close(sinkhorn_emd(junk, b, mask_a, mask_b, R=0.8), clean, rtol=0, atol=0)
    # and the gradient of the real particles is unchanged and finite
    junk.requires_grad_(True)
    sinkhorn_emd(junk, b, mask_a, mask_b, R=0.8).sum().backward()
    reference = a.clone().requires_grad_(True)
    sinkhorn_emd(reference, b, mask_a, mask_b, R=0.8).sum().backward()
    torch.testing.assert_close(junk.grad[mask_a], reference.grad[mask_a])
    # without a mask nobody can tell the NaN rows are padding
    with pytest.raises(ValueError, match="no mask says which rows are padding"):
        sinkhorn_emd(junk.detach(), b)
    # a NaN in a real particle is an error with or without a mask
    real_nan = a.clone()
    real_nan[0, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="real"):
        sinkhorn_emd(real_nan, b, mask_a, mask_b)


def test_numbers_and_flags_follow_the_package_rule():
    a = torch.tensor([[100.0, 0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[100.0, 0.0, 0.4]], dtype=torch.float64)
    value = sinkhorn_emd(a, b, R=np.float32(0.8), eps=np.float64(0.02), n_iterations=np.int64(30))
    assert float(value) == pytest.approx(50.0, rel=1e-3)
    with pytest.raises(TypeError, match="norm must be True or False"):
        sinkhorn_emd(a, b, norm="no")
    with pytest.raises(TypeError, match="n_iterations must be an integer"):
        sinkhorn_emd(a, b, n_iterations=30.0)
    with pytest.raises(TypeError, match="mask_a must be boolean"):
        sinkhorn_emd(a, b, torch.ones(1))
