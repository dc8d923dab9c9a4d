"""The shared input checks: one rule per kind of argument, errors that name the argument and the fix."""

import math

import numpy as np
import pytest
import torch

from jetgeom_lite._validation import (check_bool, check_choice, check_finite_array, check_float_dtype, check_fraction,
                                      check_integer, check_jet_tensors, check_jets, check_n_jobs, check_nonnegative,
                                      check_number, check_positive, rapidity, wrap_phi)


@pytest.mark.parametrize("value", [0.2, 2, np.float32(0.2), np.float64(0.2), np.int64(3), np.array(0.5),
                                   torch.tensor(0.5)])
def test_numbers_of_every_kind_are_numbers(value):
    assert check_positive(value, "beta") == pytest.approx(float(value))
    assert type(check_positive(value, "beta")) is float


@pytest.mark.parametrize("value", [True, np.bool_(False), "0.2", None, [0.2], np.array([0.2]), 1j])
def test_non_numbers_are_type_errors_naming_the_argument(value):
    with pytest.raises(TypeError, match="beta must be a number.*beta="):
        check_positive(value, "beta")


@pytest.mark.parametrize("value", [0, -1.0, math.inf, math.nan, np.float32("nan")])
def test_non_positive_values_are_value_errors(value):
    with pytest.raises(ValueError, match="R must be positive and finite"):
        check_positive(value, "R")


def test_nonnegative_fraction_and_bounds():
    assert check_nonnegative(0, "noise") == 0.0
    with pytest.raises(ValueError, match="noise must be non-negative"):
        check_nonnegative(-0.1, "noise")
    assert check_fraction(1.0, "f") == 1.0
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"f must lie in \(0, 1\]"):
            check_fraction(bad, "f")
    with pytest.raises(ValueError, match=r"confidence must lie in \(0, 1\)"):
        check_fraction(1.0, "confidence", allow_one=False)
    assert check_number(-3, "x", low=-5, high=5) == -3.0
    with pytest.raises(ValueError, match=r"x must lie in \[-5, 5\]"):
        check_number(6, "x", low=-5, high=5)


def test_integers():
    assert check_integer(np.int32(4), "n", minimum=1) == 4
    assert type(check_integer(np.int32(4), "n")) is int
    for bad in (2.0, 2.5, "3", True, None):
        with pytest.raises(TypeError, match="n must be an integer"):
            check_integer(bad, "n")
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 3\]"):
        check_integer(4, "n", minimum=1, maximum=3)
    with pytest.raises(ValueError, match="n must be an integer <= 3"):
        check_integer(4, "n", maximum=3)


def test_choices_bools_and_n_jobs():
    assert check_choice("last", "gradient", ("last", "unrolled")) == "last"
    with pytest.raises(ValueError, match="gradient must be one of 'last', 'unrolled'; got 'Last'"):
        check_choice("Last", "gradient", ("last", "unrolled"))
    with pytest.raises(ValueError):
        check_choice(1, "k", (1.0,))  # no silent 1 == 1.0 with another type
    assert check_bool(np.bool_(False), "norm") is False
    for bad in ("no", 0, 1, None):
        with pytest.raises(TypeError, match="norm must be True or False"):
            check_bool(bad, "norm")
    assert check_n_jobs(None) == 1 and check_n_jobs(-1) == -1 and check_n_jobs(np.int64(3)) == 3
    with pytest.raises(TypeError, match="n_jobs must be an integer number of worker processes"):
        check_n_jobs("two")
    with pytest.raises(TypeError):
        check_n_jobs(2.0)
    with pytest.raises(ValueError, match="n_jobs must not be 0"):
        check_n_jobs(0)


def test_float_dtypes():
    assert check_float_dtype(torch.float32, "x") == torch.float32
    for half in (np.float16, torch.float16, torch.bfloat16):
        with pytest.raises(TypeError, match="too coarse.*float32"):
            check_float_dtype(half, "x")
    assert check_float_dtype(np.float16, "x", allow_half=True) == np.float16
    for not_float in (np.int64, torch.int64, np.complex128, bool):
        with pytest.raises(TypeError, match="floating-point"):
            check_float_dtype(not_float, "x")


def test_finite_arrays():
    np.testing.assert_array_equal(check_finite_array(torch.tensor([1.0, 2.0]), "d"), [1.0, 2.0])
    with pytest.raises(ValueError, match="d contains 2 NaN or infinite entries"):
        check_finite_array([np.nan, np.inf, 1.0], "d")
    with pytest.raises(ValueError, match="2-D"):
        check_finite_array([1.0], "d", ndim=2)
    with pytest.raises(ValueError, match="empty"):
        check_finite_array([], "d")
    with pytest.raises(TypeError, match="numeric"):
        check_finite_array(["a", "b"], "d")


# ----------------------------------------------------------------------------- jets and masks


def test_padding_rows_are_never_read_when_a_mask_says_so():
    particles = np.array([[[2.0, 0.1, 0.2], [np.nan, np.inf, -5.0], [-1.0, 0.0, 0.0]]])
    mask = np.array([[True, False, False]])
    checked, checked_mask = check_jets(particles, mask, "jets")
    np.testing.assert_array_equal(checked[0, 0], [2.0, 0.1, 0.2])
    np.testing.assert_array_equal(checked[0, 1:], 0.0)  # padding zeroed, input untouched
    assert np.isnan(particles[0, 1, 0])
    np.testing.assert_array_equal(checked_mask, mask)


def test_without_a_mask_zero_pt_rows_are_padding_and_every_row_must_be_finite():
    particles = np.array([[[2.0, 0.1, 0.2], [0.0, 0.0, 0.0]]])
    _, mask = check_jets(particles)
    np.testing.assert_array_equal(mask, [[True, False]])
    with pytest.raises(ValueError, match="no mask says which rows are padding"):
        check_jets(np.array([[[2.0, 0.1, 0.2], [np.nan, 0.0, 0.0]]]))
    with pytest.raises(ValueError, match="negative pT"):
        check_jets(np.array([[[2.0, 0.1, 0.2], [-1.0, 0.0, 0.0]]]))


def test_bad_jets_name_the_problem():
    good = np.ones((2, 3, 3))
    with pytest.raises(ValueError, match=r"\(n_jets, M, 3\).*x\[None\]"):
        check_jets(np.ones((3, 3)))
    with pytest.raises(ValueError, match="holds no jets"):
        check_jets(np.ones((0, 3, 3)))
    with pytest.raises(ValueError, match=r"mask of jets must have shape \(2, 3\)"):
        check_jets(good, np.ones((2, 2), bool))
    with pytest.raises(TypeError, match="must be boolean"):
        check_jets(good, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="NaN or inf in a real"):
        check_jets(np.where(np.arange(3)[None, :, None] == 0, np.nan, good), np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="without any real particle"):
        check_jets(good, np.array([[True, True, True], [False, False, False]]))
    with pytest.raises(TypeError, match="too coarse"):
        check_jets(good.astype(np.float16))
    with pytest.raises(ValueError, match="carries its own mask"):
        class Jetsish:
            particles, mask = good, np.ones((2, 3), bool)
        check_jets(Jetsish(), np.ones((2, 3), bool))


def test_jet_tensors_name_dtype_and_fix():
    x = torch.zeros(2, 4, 3)
    x[:, 0, 0] = 1.0
    _, mask = check_jet_tensors(x)
    assert mask.dtype == torch.bool and mask.sum() == 2
    with pytest.raises(TypeError, match=r"torch.float64 but the model's weights are torch.float32.*x.to"):
        check_jet_tensors(x.double(), dtype=torch.float32)
    with pytest.raises(TypeError, match="torch.Tensor.*torch.as_tensor"):
        check_jet_tensors(x.numpy())
    with pytest.raises(TypeError, match="too coarse"):
        check_jet_tensors(x.half())


# ----------------------------------------------------------------------------- kinematics


def test_wrap_phi_lands_in_the_half_open_interval():
    phi = np.linspace(-20, 20, 4001)
    wrapped = wrap_phi(phi)
    assert np.all(wrapped >= -np.pi) and np.all(wrapped < np.pi)
    # the same direction: cos and sin unchanged
    np.testing.assert_allclose(np.cos(wrapped), np.cos(phi), atol=1e-12)
    np.testing.assert_allclose(np.sin(wrapped), np.sin(phi), atol=1e-12)


def test_rapidity_against_its_definition():
    y = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])
    mass, pt = 0.14, 2.0
    mt = np.hypot(pt, mass)
    energy, pz = mt * np.cosh(y), mt * np.sinh(y)
    np.testing.assert_allclose(rapidity(energy, pz), y, atol=1e-12)
    np.testing.assert_allclose(rapidity(energy, pz), 0.5 * np.log((energy + pz) / (energy - pz)), atol=1e-12)
    with pytest.raises(ValueError, match=r"\|pz\| < E"):
        rapidity(np.array([1.0]), np.array([1.0]))
