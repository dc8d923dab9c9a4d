"""Input checks shared by every module: one rule per kind of argument, one wording per error.

Every check returns the cleaned value (a Python ``float``/``int``, a numpy array, a tensor) or
raises a ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad value) whose
message names the argument and says how to fix it. Numbers may be Python or numpy scalars
(``np.float32(0.2)`` is a number everywhere); ``bool`` is never a number.

Jet arrays follow the energyflow convention used throughout the package: rows ``(pT, y, phi)``
(pT in GeV, or a fraction of the jet pT after normalisation; rapidity y; azimuth phi in
radians), zero-padded to ``(n_jets, M, 3)`` with a boolean ``mask (n_jets, M)`` that is True for
real particles. Padding rows are never looked at: they may hold anything, even NaN, and the
checked arrays come back with padding set to zero.

Examples
--------
>>> import numpy as np
>>> check_positive(np.float32(0.25), "beta")
0.25
>>> check_integer(np.int64(3), "n", minimum=1)
3
>>> check_positive(True, "beta")
Traceback (most recent call last):
...
TypeError: beta must be a number, got bool; pass e.g. beta=1.0.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "check_number",
    "check_positive",
    "check_nonnegative",
    "check_fraction",
    "check_integer",
    "check_choice",
    "check_bool",
    "check_n_jobs",
    "check_finite_array",
    "check_float_dtype",
    "check_jets",
    "check_jet_tensors",
    "check_torch_tensor",
    "wrap_phi",
    "rapidity",
]


# --------------------------------------------------------------------------------------------
# numbers


def _is_real_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):  # int, float, numpy integer and floating scalars
        return True
    # 0-d numpy arrays and 0-d tensors of a real dtype
    ndim = getattr(value, "ndim", None)
    dtype = getattr(value, "dtype", None)
    if ndim == 0 and dtype is not None:
        kind = getattr(np.dtype(dtype), "kind", "") if not _is_torch_dtype(dtype) else (
            "f" if dtype.is_floating_point else ("b" if str(dtype) == "torch.bool" else "i"))
        return kind in "fiu"
    return False


def _is_torch_dtype(dtype: Any) -> bool:
    return type(dtype).__module__ == "torch" and type(dtype).__name__ == "dtype"


def check_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, finite: bool = True,
                 example: str = "1.0") -> float:
    """A real number (Python, numpy or 0-d array/tensor; not bool) within optional bounds.

    Parameters
    ----------
    value : object
    name : str
        The argument's name, used in the message.
    low, high : float, optional
        Bounds; closed unless ``low_open`` / ``high_open``.
    finite : bool
        Refuse NaN and inf (default). With ``finite=False`` inf passes, NaN never does.
    example : str
        A valid value shown in the message.

    Returns
    -------
    float

    Examples
    --------
    >>> check_number(np.float32(0.5), "confidence", low=0, high=1, low_open=True, high_open=True)
    0.5
    >>> check_number(None, "confidence")
    Traceback (most recent call last):
    ...
    TypeError: confidence must be a number, got NoneType; pass e.g. confidence=1.0.
    """
    if not _is_real_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}; pass e.g. {name}={example}.")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{name} must be a number, got NaN; pass e.g. {name}={example}.")
    if finite and not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}.")
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if below or above:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must lie in {interval}, got {number:g}; pass e.g. {name}={example}.")
    return number


def check_positive(value: Any, name: str, *, example: str = "1.0") -> float:
    """A positive, finite number (``> 0``), returned as ``float``.

    Examples
    --------
    >>> check_positive(2, "R")
    2.0
    >>> check_positive(-1.0, "R")
    Traceback (most recent call last):
    ...
    ValueError: R must be positive and finite, got -1; pass e.g. R=1.0.
    """
    if _is_real_number(value) and math.isnan(float(value)):
        raise ValueError(f"{name} must be positive and finite, got nan; pass e.g. {name}={example}.")
    number = check_number(value, name, finite=False, example=example)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite, got {number:g}; pass e.g. {name}={example}.")
    return number


def check_nonnegative(value: Any, name: str, *, example: str = "0.0") -> float:
    """A finite number ``>= 0``, returned as ``float``.

    Examples
    --------
    >>> check_nonnegative(0, "noise")
    0.0
    """
    if _is_real_number(value) and math.isnan(float(value)):
        raise ValueError(f"{name} must be non-negative and finite, got nan; pass e.g. {name}={example}.")
    number = check_number(value, name, finite=False, example=example)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be non-negative and finite, got {number:g}; pass e.g. {name}={example}.")
    return number


def check_fraction(value: Any, name: str, *, allow_zero: bool = False, allow_one: bool = True,
                   example: str = "0.5") -> float:
    """A number in ``(0, 1]`` (bounds adjustable), returned as ``float``.

    Examples
    --------
    >>> check_fraction(np.float32(0.25), "lr_final_fraction")
    0.25
    """
    return check_number(value, name, low=0.0, high=1.0, low_open=not allow_zero, high_open=not allow_one,
                        example=example)


def check_integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
                  example: str | None = None) -> int:
    """An integer (Python or numpy; not bool, not a float like ``3.0``) within optional bounds.

    Examples
    --------
    >>> check_integer(64, "batch_size", minimum=1)
    64
    >>> check_integer(0, "batch_size", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be an integer >= 1, got 0; pass e.g. batch_size=1.
    """
    example = example if example is not None else str(minimum if minimum is not None else 1)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}; "
                        f"pass e.g. {name}={example}.")
    integer = operator.index(value)
    if (minimum is not None and integer < minimum) or (maximum is not None and integer > maximum):
        if minimum is not None and maximum is not None:
            bound = f"in [{minimum}, {maximum}]"
        elif minimum is not None:
            bound = f">= {minimum}"
        else:
            bound = f"<= {maximum}"
        raise ValueError(f"{name} must be an integer {bound}, got {integer}; pass e.g. {name}={example}.")
    return int(integer)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """One of ``choices`` (compared with ``==``; strings case-sensitively).

    Examples
    --------
    >>> check_choice("last", "gradient", ("last", "full"))
    'last'
    """
    choices = tuple(choices)
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return value
    raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}.")


def check_bool(value: Any, name: str) -> bool:
    """A real boolean (``True``/``False`` or ``np.bool_``), never a truthy string like ``"no"``.

    Examples
    --------
    >>> check_bool(np.bool_(True), "norm")
    True
    >>> check_bool("no", "norm")
    Traceback (most recent call last):
    ...
    TypeError: norm must be True or False, got str 'no'.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.")


def check_n_jobs(value: Any, name: str = "n_jobs") -> int:
    """joblib's convention: a positive number of workers, or ``-1`` (every core), ``-2`` (all but one), ...

    ``None`` means 1 (no parallel workers). Zero is refused.

    Examples
    --------
    >>> check_n_jobs(None), check_n_jobs(-1), check_n_jobs(np.int32(2))
    (1, -1, 2)
    """
    if value is None:
        return 1
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer number of worker processes (1, 2, ..., or -1 for every "
                        f"core), got {type(value).__name__} {value!r}.")
    if int(value) == 0:
        raise ValueError(f"{name} must not be 0; pass 1 for no parallelism or -1 for every core.")
    return int(value)


# --------------------------------------------------------------------------------------------
# arrays


def check_float_dtype(dtype: Any, name: str, *, allow_half: bool = False) -> Any:
    """A floating dtype (numpy or torch); float16/bfloat16 refused unless ``allow_half``.

    Half precision holds about three significant digits and overflows at 65504; sums of
    exponentials (Sinkhorn) and pT sums in GeV lose everything in it, so computations refuse it
    where it would silently turn into NaN.

    Examples
    --------
    >>> check_float_dtype(np.float32, "jets")
    dtype('float32')
    >>> check_float_dtype(np.float16, "jets")
    Traceback (most recent call last):
    ...
    TypeError: jets has dtype float16, too coarse for this computation; convert it to float32 or float64 first (e.g. x.astype(np.float32) or x.float()).
    """
    if _is_torch_dtype(dtype):
        name_of = str(dtype).replace("torch.", "")
        floating = dtype.is_floating_point
        complex_ = dtype.is_complex
    else:
        dtype = np.dtype(dtype)
        name_of, floating, complex_ = dtype.name, dtype.kind == "f", dtype.kind == "c"
    if complex_ or not floating:
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {name_of}; convert it with "
                        "np.asarray(x, dtype=float) or torch.as_tensor(x, dtype=torch.float32).")
    if not allow_half and name_of in ("float16", "bfloat16"):
        raise TypeError(f"{name} has dtype {name_of}, too coarse for this computation; convert it to float32 "
                        "or float64 first (e.g. x.astype(np.float32) or x.float()).")
    return dtype


def check_finite_array(value: Any, name: str, *, ndim: int | None = None, min_size: int = 1,
                       dtype: Any = np.float64) -> np.ndarray:
    """A numeric numpy array with only finite entries (converted to ``dtype``).

    Examples
    --------
    >>> check_finite_array([1.0, 2.0], "distances", ndim=1)
    array([1., 2.])
    >>> check_finite_array([1.0, float("nan")], "distances")
    Traceback (most recent call last):
    ...
    ValueError: distances contains 1 NaN or infinite entries; remove or fix them first.
    """
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}.")
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array; could not convert it ({error}).") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}.")
    if array.size < min_size:
        raise ValueError(f"{name} is empty (shape {array.shape}); it needs at least {min_size} entries.")
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or infinite entries; remove or fix them first.")
    return array


def check_jets(particles: Any, mask: Any = None, name: str = "jets", *, allow_empty_jets: bool = False,
               dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Padded jets ``(n_jets, M, 3)`` and their mask ``(n_jets, M)``, checked, padding zeroed.

    Parameters
    ----------
    particles : array_like, shape (n_jets, M, 3)
        Rows ``(pT, y, phi)``; or an object with ``.particles`` and ``.mask`` (a ``Jets``).
    mask : array_like of bool, shape (n_jets, M), optional
        True for real particles. Default: ``pT > 0`` (padding rows are zeros, and then every row
        must be finite); a mask given with a ``Jets`` object is an error.
    name : str
    allow_empty_jets : bool
        Accept jets without a real particle.
    dtype : numpy dtype
        Of the returned particles (float16 refused).

    Returns
    -------
    particles : ndarray, shape (n_jets, M, 3)
        Real rows as given; padding rows set to zero.
    mask : ndarray of bool, shape (n_jets, M)

    Raises
    ------
    ValueError
        Wrong shapes, NaN/inf or negative pT in a real particle, an empty batch, or a jet
        without particles.

    Examples
    --------
    >>> p = np.array([[[1.0, 0.0, 0.0], [np.nan, 0.0, 0.0]]])
    >>> particles, mask = check_jets(p, np.array([[True, False]]))
    >>> particles[0, 1].tolist(), mask.tolist()
    ([0.0, 0.0, 0.0], [[True, False]])
    """
    if hasattr(particles, "particles") and hasattr(particles, "mask"):
        if mask is not None:
            raise ValueError(f"{name} carries its own mask; do not pass mask= as well.")
        particles, mask = particles.particles, particles.mask
    if particles is None or isinstance(particles, (str, bytes, dict)):
        raise TypeError(f"{name} must be an (n_jets, M, 3) array of particles (pT, y, phi), got "
                        f"{type(particles).__name__}.")
    if type(particles).__module__.startswith("torch"):
        particles = particles.detach().cpu().numpy()
    raw_dtype = getattr(particles, "dtype", None)
    if raw_dtype is not None and np.dtype(raw_dtype).kind == "f":
        check_float_dtype(raw_dtype, name)
    check_float_dtype(dtype, "dtype")
    try:
        array = np.array(particles, dtype=dtype)  # a copy: padding is overwritten below
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric (n_jets, M, 3) array of (pT, y, phi); could not convert "
                        f"it ({error}).") from None
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{name} must have shape (n_jets, M, 3), one row (pT, y, phi) per particle, zero-padded; "
                         f"got shape {array.shape}" + (" (one jet? add a leading axis: x[None])" if array.ndim == 2 else "")
                         + ".")
    if array.shape[0] == 0:
        raise ValueError(f"{name} holds no jets (shape {array.shape}).")
    if mask is None:
        # without a mask a row is padding only if its pT is zero, so every row must be readable
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or inf and no mask says which rows are padding; fix the "
                             "particles, or pass the mask (True for real particles) so padding rows are ignored.")
        if np.any(array[..., 0] < 0):
            raise ValueError(f"{name} has negative pT; pT must be >= 0 (zero-pT rows are padding).")
        mask_array = np.asarray(array[..., 0] > 0)
    else:
        if type(mask).__module__.startswith("torch"):
            mask = mask.detach().cpu().numpy()
        mask_array = np.asarray(mask)
        if mask_array.dtype != np.bool_:
            if mask_array.dtype.kind in "iu" and np.isin(mask_array, (0, 1)).all():
                mask_array = mask_array.astype(bool)
            else:
                raise TypeError(f"the mask of {name} must be boolean (True for real particles), got dtype "
                                f"{mask_array.dtype}.")
        if mask_array.shape != array.shape[:2]:
            raise ValueError(f"the mask of {name} must have shape {array.shape[:2]} (n_jets, M), True for real "
                             f"particles; got {mask_array.shape}.")
    array[~mask_array] = 0.0
    real = array[mask_array]
    if not np.all(np.isfinite(real)):
        raise ValueError(f"{name} has NaN or inf in a real (unmasked) particle; every real particle needs finite "
                         "(pT, y, phi).")
    if np.any(real[:, 0] < 0):
        raise ValueError(f"{name} has negative pT in a real particle; pT must be >= 0.")
    if not allow_empty_jets:
        empty = np.flatnonzero(~mask_array.any(axis=1))
        if empty.size:
            raise ValueError(f"{name} has {empty.size} jet(s) without any real particle (first: index {empty[0]}); "
                             "remove them, e.g. jets[jets.mask.any(axis=1)].")
    return array, mask_array


def check_torch_tensor(value: Any, name: str, hint: str = "") -> Any:
    """A ``torch.Tensor`` (numpy arrays are refused with a message saying how to convert them)."""
    import torch

    if not isinstance(value, torch.Tensor):
        extra = f" {hint}" if hint else ""
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}; convert it with "
                        f"torch.as_tensor({name}, dtype=torch.float32).{extra}")
    return value


def check_jet_tensors(x: Any, mask: Any = None, name: str = "x", *, dtype: Any = None) -> tuple[Any, Any]:
    """Torch version of :func:`check_jets` for models: ``x (n, M, 3)`` tensor and a bool mask.

    Padding rows must be finite (models multiply them by zero weights, and NaN * 0 is NaN).

    Parameters
    ----------
    x : torch.Tensor, shape (n, M, 3)
    mask : torch.Tensor of bool, shape (n, M), optional
        Default ``x[..., 0] > 0``.
    name : str
    dtype : torch.dtype, optional
        The dtype ``x`` must have (a model's parameters); a mismatch is a TypeError naming both.

    Returns
    -------
    (x, mask)
    """
    import torch

    check_torch_tensor(x, name, "Use jet_tensors(jets) to convert preprocessed jets.")
    if x.ndim != 3 or x.shape[-1] != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n_jets, M, 3) with rows (pT, y, phi); got {tuple(x.shape)}.")
    check_float_dtype(x.dtype, name)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model's weights are {dtype}; convert the batch with "
                        f"{name}.to({dtype}) (or the model with model.to({x.dtype})).")
    if mask is None:
        mask = x[..., 0] > 0
    elif not isinstance(mask, torch.Tensor) or mask.shape != x.shape[:2]:
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a tensor of shape {tuple(x.shape[:2])} (True for real particles); got {shape}.")
    mask = mask.bool()
    if not bool(torch.isfinite(x.detach()).all()):
        raise ValueError(f"{name} contains NaN or inf; every particle (and padding) must be finite.")
    if bool((x.detach()[..., 0] < 0)[mask].any()):
        raise ValueError(f"{name} has negative pT fractions; rows must be (pT >= 0, y, phi).")
    if not bool(mask.any(dim=1).all()):
        raise ValueError(f"{name} has jets with no real particle; remove empty jets.")
    return x, mask


# --------------------------------------------------------------------------------------------
# kinematics


def wrap_phi(phi: Any) -> np.ndarray:
    """Azimuth wrapped into ``[-pi, pi)``, elementwise (radians).

    Examples
    --------
    >>> wrap_phi(np.array([np.pi, -np.pi, 3 * np.pi / 2])).round(4).tolist()
    [-3.1416, -3.1416, -1.5708]
    """
    return (np.asarray(phi) + np.pi) % (2 * np.pi) - np.pi


def rapidity(energy: Any, pz: Any) -> np.ndarray:
    """Rapidity :math:`y = \\tfrac12 \\ln\\frac{E + p_z}{E - p_z}`, elementwise.

    Uses ``arctanh(pz / E)``, the same number without the cancellation in ``E - pz``.

    Raises
    ------
    ValueError
        Where ``|pz| >= E`` (a massless particle along the beam, or unphysical input).

    Examples
    --------
    >>> float(rapidity(np.cosh(0.5), np.sinh(0.5)))
    0.5
    """
    energy = np.asarray(energy, dtype=np.float64)
    pz = np.asarray(pz, dtype=np.float64)
    if np.any(~(np.abs(pz) < energy)):
        raise ValueError("rapidity needs |pz| < E for every particle; some have |pz| >= E (or NaN).")
    return np.arctanh(pz / energy)
