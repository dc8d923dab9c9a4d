"""Toy data whose geometry is known: the test bench for the VAE's dimension measures.

Every generator returns a :class:`ToySample`: the points, shape ``(n, D)``, and the truth about them
(intrinsic dimension, noise scale, the length scales of the shape, intrinsic coordinates for
colouring plots, a one-line description). All are pure numpy and repeatable with ``seed``.

The shapes and what a VAE should see at resolution :math:`\\beta` (noise :math:`\\sigma_n`, size
:math:`L`): below :math:`\\sigma_n` all ``D`` ambient directions, between :math:`\\sigma_n` and
:math:`L` the intrinsic dimension ``d``, above :math:`L` nothing.

- :func:`bananas`: the talk's curved 2-D density, one long and one short scale.
- :func:`circle` (d = 1), :func:`sphere` (d = 2), :func:`torus` (d = 2; a thin torus is also
  one-dimensional at scales above its tube radius).
- :func:`wiggly_circle`: a curve with small, fast wiggles; its dimension depends on the scale.
- :func:`embed_in_ambient`: rotate any of them into a higher ambient dimension (the "curse of
  dimensionality" demonstration).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_integer, check_nonnegative, check_positive

__all__ = [
    "ToySample",
    "bananas",
    "circle",
    "sphere",
    "torus",
    "wiggly_circle",
    "embed_in_ambient",
    "random_rotation",
]


@dataclass(frozen=True, eq=False)
class ToySample:
    """Points of a toy dataset and the truth about them.

    Attributes
    ----------
    points : numpy.ndarray, shape (n, D)
        The data, noise included. Lengths in arbitrary units (the unit of :math:`\\beta`).
    coordinates : numpy.ndarray, shape (n, d)
        Intrinsic coordinates of each point before noise (angles in rad, or arc position), for
        colouring plots and checking what a latent direction learnt.
    intrinsic_dimension : int
        ``d``, the dimension of the noise-free shape.
    ambient_dimension : int
        ``D``, the number of columns of ``points``.
    noise_scale : float
        Standard deviation :math:`\\sigma_n` of the isotropic Gaussian noise added to every ambient
        coordinate (same unit as ``points``).
    scales : dict of str to float
        The named length scales of the shape (radius, widths, wavelength, ...), same unit.
    description : str
        One line saying what the sample is.
    """

    points: np.ndarray
    coordinates: np.ndarray
    intrinsic_dimension: int
    ambient_dimension: int
    noise_scale: float
    scales: dict = field(default_factory=dict)
    description: str = ""

    @property
    def n_points(self) -> int:
        """Number of points ``n``."""
        return int(self.points.shape[0])


# --------------------------------------------------------------------------------------------
# input checks


def _check_count(n: int) -> int:
    return check_integer(n, "n", minimum=1, example="3000")


def _check_length(value: float, name: str, allow_zero: bool = False) -> float:
    return check_nonnegative(value, name) if allow_zero else check_positive(value, name)


def _check_ambient(ambient_dimension: int | None, natural: int) -> int:
    if ambient_dimension is None:
        return natural
    ambient_dimension = check_integer(ambient_dimension, "ambient_dimension", example=str(natural))
    if ambient_dimension < natural:
        raise ValueError(f"ambient_dimension={ambient_dimension} is smaller than the {natural} "
                         "dimensions this shape needs; pass at least that many (or None).")
    return int(ambient_dimension)


# --------------------------------------------------------------------------------------------
# embedding


def random_rotation(dimension: int, seed: int = 0) -> np.ndarray:
    """A random rotation matrix, uniform (Haar) over the rotation group SO(D).

    A rotation, never a reflection: ``det = +1`` (drawn with
    ``scipy.stats.special_ortho_group``). Before, the draw was uniform over the orthogonal
    group O(D) and half the seeds gave a reflection.

    Parameters
    ----------
    dimension : int
        Size ``D`` of the square matrix.
    seed : int
        Seed of the random draw.

    Returns
    -------
    numpy.ndarray, shape (D, D)
        Orthogonal, ``Q @ Q.T`` is the identity, with ``det Q = +1``.

    Examples
    --------
    >>> q = random_rotation(4, seed=1)
    >>> bool(np.allclose(q @ q.T, np.eye(4))), round(float(np.linalg.det(q)), 6)
    (True, 1.0)
    """
    from scipy.stats import special_ortho_group

    dimension = check_integer(dimension, "dimension", minimum=1, example="3")
    seed = check_integer(seed, "seed")
    if dimension == 1:
        return np.ones((1, 1))  # SO(1) holds only the identity
    return special_ortho_group.rvs(dimension, random_state=np.random.default_rng(seed))


def embed_in_ambient(points: np.ndarray, ambient_dimension: int, seed: int = 0) -> np.ndarray:
    """Place points in a higher-dimensional space: pad with zeros, then rotate at random.

    Distances between points are unchanged, so the intrinsic geometry is the same; only the
    number of coordinates grows. Add noise *after* embedding to make it ``D``-dimensional.

    Parameters
    ----------
    points : numpy.ndarray, shape (n, D0)
    ambient_dimension : int
        ``D >= D0``.
    seed : int
        Seed of the rotation.

    Returns
    -------
    numpy.ndarray, shape (n, D)

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> y = embed_in_ambient(x, 5, seed=2)
    >>> y.shape, round(float(np.linalg.norm(y[0] - y[1])), 6)
    ((2, 5), 1.414214)
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"points must have shape (n, D0), got shape {points.shape}.")
    ambient_dimension = _check_ambient(ambient_dimension, points.shape[1])
    padded = np.zeros((points.shape[0], ambient_dimension))
    padded[:, : points.shape[1]] = points
    return padded @ random_rotation(ambient_dimension, seed=seed).T


def _finish(clean: np.ndarray, ambient_dimension: int, noise: float, rng: np.random.Generator,
            seed: int) -> np.ndarray:
    """Embed (if asked) and add isotropic Gaussian noise in every ambient direction."""
    if ambient_dimension > clean.shape[1]:
        # The rotation gets its own seed stream so that it does not depend on n.
        clean = embed_in_ambient(clean, ambient_dimension, seed=seed + 7919)
    return clean + noise * rng.standard_normal(clean.shape)


# --------------------------------------------------------------------------------------------
# the toys


def bananas(n: int = 3000, radius: float = 2.0, arc_width: float = 1.0, thickness: float = 0.1,
            noise: float = 0.0, ambient_dimension: int | None = None, seed: int = 0) -> ToySample:
    """The talk's "bananas": a curved two-dimensional density with one long and one short scale.

    Points sit on an arc of radius ``radius`` (centre at the origin, the arc's middle at the top),
    with a Gaussian position along the arc of standard deviation ``arc_width`` (arc length) and a
    Gaussian offset across it of standard deviation ``thickness``::

        theta ~ pi/2 + N(0, (arc_width / radius)^2),  r ~ radius + N(0, thickness^2)
        x = (r cos theta, r sin theta) - (0, radius)

    A VAE should encode the long direction first (as :math:`\\beta` falls below ``arc_width``) and the
    short one only when :math:`\\beta` falls below ``thickness``.

    Parameters
    ----------
    n : int
        Number of points.
    radius : float
        Radius of curvature of the banana (length unit).
    arc_width : float
        Standard deviation along the arc (the long scale).
    thickness : float
        Standard deviation across the arc (the short scale).
    noise : float
        Extra isotropic Gaussian noise on every ambient coordinate (default none: the banana is
        already a two-dimensional density).
    ambient_dimension : int or None
        ``D >= 2``; above 2 the banana is rotated at random into ``D`` dimensions.
    seed : int

    Returns
    -------
    ToySample
        ``points`` (n, D), centred near the origin; ``coordinates`` (n, 2) = (arc position,
        radial offset); ``intrinsic_dimension`` 2.

    Examples
    --------
    >>> sample = bananas(500, seed=1)
    >>> sample.points.shape, sample.intrinsic_dimension
    ((500, 2), 2)
    """
    n = _check_count(n)
    radius = _check_length(radius, "radius")
    arc_width = _check_length(arc_width, "arc_width")
    thickness = _check_length(thickness, "thickness")
    noise = _check_length(noise, "noise", allow_zero=True)
    ambient = _check_ambient(ambient_dimension, 2)
    if arc_width > 1.2 * radius:
        raise ValueError(f"arc_width={arc_width} is more than 1.2 x radius={radius}: the banana "
                         "would close into a ring. Lower arc_width or raise radius.")
    rng = np.random.default_rng(seed)
    along = arc_width * rng.standard_normal(n)
    across = thickness * rng.standard_normal(n)
    theta = np.pi / 2 + along / radius
    r = radius + across
    clean = np.stack([r * np.cos(theta), r * np.sin(theta) - radius], axis=1)
    return ToySample(points=_finish(clean, ambient, noise, rng, seed),
                     coordinates=np.stack([along, across], axis=1),
                     intrinsic_dimension=2, ambient_dimension=ambient, noise_scale=noise,
                     scales={"arc_width": arc_width, "thickness": thickness, "radius": radius},
                     description=(f"banana: arc of radius {radius:g}, sd {arc_width:g} along and "
                                  f"{thickness:g} across, in {ambient}-D, noise sd {noise:g}"))


def circle(n: int = 3000, radius: float = 1.0, noise: float = 0.01,
           ambient_dimension: int | None = None, seed: int = 0) -> ToySample:
    """Points uniform on a circle (d = 1) with isotropic Gaussian noise.

    Parameters
    ----------
    n : int
    radius : float
        Circle radius (length unit).
    noise : float
        Standard deviation :math:`\\sigma_n` of the noise on each of the ``D`` coordinates.
    ambient_dimension : int or None
        ``D >= 2``. Above 2 the circle is rotated at random into ``D`` dimensions (seeded by
        ``seed``) and the noise fills all ``D``.
    seed : int

    Returns
    -------
    ToySample
        ``points`` (n, D); ``coordinates`` (n, 1) the angle in rad.

    Examples
    --------
    >>> sample = circle(1000, noise=0.0, seed=3)
    >>> bool(np.allclose(np.linalg.norm(sample.points, axis=1), 1.0))
    True
    """
    n = _check_count(n)
    radius = _check_length(radius, "radius")
    noise = _check_length(noise, "noise", allow_zero=True)
    ambient = _check_ambient(ambient_dimension, 2)
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    clean = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return ToySample(points=_finish(clean, ambient, noise, rng, seed), coordinates=angle[:, None],
                     intrinsic_dimension=1, ambient_dimension=ambient, noise_scale=noise,
                     scales={"radius": radius},
                     description=f"circle of radius {radius:g} in {ambient}-D, noise sd {noise:g}")


def sphere(n: int = 3000, radius: float = 1.0, noise: float = 0.01,
           ambient_dimension: int | None = None, seed: int = 0) -> ToySample:
    """Points uniform on a 2-sphere (d = 2) with isotropic Gaussian noise.

    Parameters
    ----------
    n : int
    radius : float
    noise : float
        Standard deviation of the noise on each of the ``D`` coordinates.
    ambient_dimension : int or None
        ``D >= 3``; above 3 the sphere is rotated at random into ``D`` dimensions.
    seed : int

    Returns
    -------
    ToySample
        ``points`` (n, D); ``coordinates`` (n, 2) = (polar angle, azimuth) in rad.

    Examples
    --------
    >>> sample = sphere(800, noise=0.0, seed=1)
    >>> sample.points.shape, bool(np.allclose(np.linalg.norm(sample.points, axis=1), 1.0))
    ((800, 3), True)
    """
    n = _check_count(n)
    radius = _check_length(radius, "radius")
    noise = _check_length(noise, "noise", allow_zero=True)
    ambient = _check_ambient(ambient_dimension, 3)
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    polar = np.arccos(np.clip(direction[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(direction[:, 1], direction[:, 0])
    return ToySample(points=_finish(radius * direction, ambient, noise, rng, seed),
                     coordinates=np.stack([polar, azimuth], axis=1), intrinsic_dimension=2,
                     ambient_dimension=ambient, noise_scale=noise, scales={"radius": radius},
                     description=f"sphere of radius {radius:g} in {ambient}-D, noise sd {noise:g}")


def torus(n: int = 3000, major_radius: float = 1.0, minor_radius: float = 0.4, noise: float = 0.01,
          ambient_dimension: int | None = None, seed: int = 0) -> ToySample:
    """Points on a ring torus in 3-D (d = 2), uniform in the two angles, with Gaussian noise.

    ``x = ((R + r cos v) cos u, (R + r cos v) sin u, r sin v)`` with ``u, v`` uniform in
    :math:`[0, 2\\pi)`. Uniform in angles is not uniform in area (the inner rim is denser); that
    does not change the dimension. A thin torus (``minor_radius`` much below ``major_radius``) is
    two-dimensional only below ``minor_radius`` and looks like a circle above it.

    Parameters
    ----------
    n : int
    major_radius : float
        ``R``, distance from the centre of the hole to the centre of the tube.
    minor_radius : float
        ``r < R``, radius of the tube.
    noise : float
        Standard deviation of the noise on each of the ``D`` coordinates.
    ambient_dimension : int or None
        ``D >= 3``; above 3 the torus is rotated at random into ``D`` dimensions.
    seed : int

    Returns
    -------
    ToySample
        ``points`` (n, D); ``coordinates`` (n, 2) = (u, v) in rad.

    Examples
    --------
    >>> sample = torus(500, noise=0.0, seed=1)
    >>> sample.points.shape, sample.intrinsic_dimension
    ((500, 3), 2)
    """
    n = _check_count(n)
    major_radius = _check_length(major_radius, "major_radius")
    minor_radius = _check_length(minor_radius, "minor_radius")
    if minor_radius >= major_radius:
        raise ValueError(f"minor_radius={minor_radius} must be smaller than major_radius="
                         f"{major_radius} for a ring torus (else it intersects itself).")
    noise = _check_length(noise, "noise", allow_zero=True)
    ambient = _check_ambient(ambient_dimension, 3)
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.0, 2 * np.pi, n)
    v = rng.uniform(0.0, 2 * np.pi, n)
    ring = major_radius + minor_radius * np.cos(v)
    clean = np.stack([ring * np.cos(u), ring * np.sin(u), minor_radius * np.sin(v)], axis=1)
    return ToySample(points=_finish(clean, ambient, noise, rng, seed),
                     coordinates=np.stack([u, v], axis=1), intrinsic_dimension=2,
                     ambient_dimension=ambient, noise_scale=noise,
                     scales={"major_radius": major_radius, "minor_radius": minor_radius},
                     description=(f"torus R={major_radius:g}, r={minor_radius:g} in {ambient}-D, "
                                  f"noise sd {noise:g}"))


def wiggly_circle(n: int = 3000, radius: float = 1.0, amplitude: float = 0.15, frequency: int = 150,
                  noise: float = 0.002, ambient_dimension: int | None = None,
                  seed: int = 0) -> ToySample:
    """A circle with small, fast radial wiggles: a curve whose apparent dimension depends on scale.

    ``r(theta) = radius + amplitude sin(frequency theta)``, ``theta`` uniform. The curve itself is
    one-dimensional everywhere, but it zig-zags across a band of width ``2 amplitude``:

    - scales well above ``amplitude`` (up to ``radius``): a circle, dimension 1;
    - scales between the spacing of neighbouring strands (``strand_spacing`` = half the
      wavelength ``2 pi radius / frequency``, when the wiggle is steep) and the band width
      ``2 amplitude``: the curve fills the band, dimension near 2;
    - scales below the strand spacing but above ``noise``: a single smooth strand, dimension 1;
    - scales below ``noise``: ``D``.

    The stated ``scales`` hold these numbers. The two-dimensional window is narrow (a decade at
    the defaults) because a curve folded into a band is "two-dimensional" only between its fold
    spacing and the band; pair counts at the defaults give a dimension of 1.7-1.9 for
    0.03 < Q < 0.2, about 1.0 below 0.015 and 1.1 above 0.5. For two clean, widely separated
    scales use a thin :func:`torus` (1-D above its tube radius, 2-D below).

    Parameters
    ----------
    n : int
    radius : float
    amplitude : float
        Radial amplitude of the wiggle (half the band width), below ``radius``.
    frequency : int
        Number of wiggles around the circle.
    noise : float
        Standard deviation of the noise on each ambient coordinate.
    ambient_dimension : int or None
        ``D >= 2``.
    seed : int

    Returns
    -------
    ToySample
        ``points`` (n, D); ``coordinates`` (n, 1) the angle theta in rad; ``intrinsic_dimension``
        1 (of the curve; see the scales above for what is seen at each resolution).

    Examples
    --------
    >>> sample = wiggly_circle(1000, seed=1)
    >>> sample.points.shape, sorted(sample.scales)
    ((1000, 2), ['amplitude', 'radius', 'strand_spacing', 'wavelength'])
    """
    n = _check_count(n)
    radius = _check_length(radius, "radius")
    amplitude = _check_length(amplitude, "amplitude")
    if amplitude >= radius:
        raise ValueError(f"amplitude={amplitude} must be smaller than radius={radius}.")
    frequency = check_integer(frequency, "frequency", minimum=1, example="150")
    noise = _check_length(noise, "noise", allow_zero=True)
    ambient = _check_ambient(ambient_dimension, 2)
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.0, 2 * np.pi, n)
    r = radius + amplitude * np.sin(frequency * theta)
    clean = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    wavelength = 2 * np.pi * radius / frequency
    return ToySample(points=_finish(clean, ambient, noise, rng, seed), coordinates=theta[:, None],
                     intrinsic_dimension=1, ambient_dimension=ambient, noise_scale=noise,
                     scales={"radius": radius, "amplitude": amplitude, "wavelength": wavelength,
                             "strand_spacing": wavelength / 2},
                     description=(f"circle of radius {radius:g} with {frequency} wiggles of "
                                  f"amplitude {amplitude:g} in {ambient}-D, noise sd {noise:g}"))
