"""Tests for jetgeom_lite.plotting: what the figures draw, the book's colours, and bad input."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from jetgeom_lite.data import Jets, preprocess, pythia_settings  # noqa: E402
from jetgeom_lite.plotting import (  # noqa: E402
    BOOK_STYLE,
    PROCESS_COLORS,
    PROCESS_LABELS,
    SettingsTable,
    compare_histograms,
    event_display,
    process_color,
    settings_table,
)

TOY_JET = np.array([[300.0, 0.1, 1.0], [200.0, -0.2, 1.3], [50.0, 0.3, 0.8], [0.0, 0.0, 0.0]])
TOY_MASK = np.array([True, True, True, False])


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def _toy_jets(process: str = "W", n: int = 2) -> Jets:
    """n copies of the toy jet, with generator-like settings (no Pythia run needed)."""
    particles = np.repeat(TOY_JET[None], n, axis=0)
    mask = np.repeat(TOY_MASK[None], n, axis=0)
    settings = {"process": process, "pt_range": [500.0, 600.0], "R": 0.8, "eta_max": 2.0, "mpi": False, "seed": 1,
                "match_delta_r": 0.6 if process != "QCD" else None,
                "jet_algorithm": "anti-kT, R = 0.8, visible final-state particles, leading jet",
                "pythia_settings": pythia_settings(process, seed=0)[:-3],
                "pythia_version": "8.317.2", "fastjet_version": "3.5.2.0"}
    return Jets(particles, mask, pt=np.full(n, 540.0), y=np.full(n, 0.02), phi=np.full(n, 1.05),
                mass=np.full(n, 80.0), process=process, settings=settings)


# ------------------------------------------------------------------------------------------
# event_display
# ------------------------------------------------------------------------------------------


def test_event_display_marker_area_is_proportional_to_pt(ax):
    markers = event_display(ax, TOY_JET, TOY_MASK, total_area=1000.0)
    assert isinstance(markers, PathCollection)
    sizes = np.sort(markers.get_sizes())[::-1]
    np.testing.assert_allclose(sizes, 1000.0 * np.array([300.0, 200.0, 50.0]) / 550.0)
    assert len(markers.get_offsets()) == 3  # the padding row is not drawn


def test_event_display_same_picture_in_gev_and_normalised_pt(ax):
    raw = event_display(ax, TOY_JET, TOY_MASK)
    normalised = TOY_JET.copy()
    normalised[:, 0] /= TOY_JET[:, 0].sum()
    scaled = event_display(ax, normalised, TOY_MASK)
    np.testing.assert_allclose(raw.get_sizes(), scaled.get_sizes())


def test_event_display_draws_axis_circle_and_labels(ax):
    event_display(ax, TOY_JET, TOY_MASK, R=0.4, centre=(0.0, 1.0), label="toy")
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 1
    assert circles[0].get_radius() == pytest.approx(0.4)
    assert circles[0].center == pytest.approx((0.0, 1.0))
    axis_marks = [line for line in ax.lines if line.get_marker() == "+"]
    assert len(axis_marks) == 1
    assert axis_marks[0].get_xdata()[0] == pytest.approx(0.0) and axis_marks[0].get_ydata()[0] == pytest.approx(1.0)
    assert "rapidity" in ax.get_xlabel()
    assert "[rad]" in ax.get_ylabel()
    assert ax.get_xlim() == pytest.approx((-0.46, 0.46))
    labels = [h.get_label() for h in ax.get_legend_handles_labels()[0]]
    assert "toy" in labels and "jet axis" in labels


def test_event_display_can_leave_out_axis_and_circle(ax):
    event_display(ax, TOY_JET, TOY_MASK, show_axis=False, show_circle=False)
    assert not ax.patches
    assert not ax.lines


def test_event_display_default_centre_is_pt_weighted_centroid(ax):
    event_display(ax, TOY_JET, TOY_MASK)
    weights = TOY_JET[:3, 0]
    expected = (np.average(TOY_JET[:3, 1], weights=weights), np.average(TOY_JET[:3, 2], weights=weights))
    assert ax.patches[0].center == pytest.approx(expected)


def test_event_display_keeps_a_jet_across_phi_pi_together(ax):
    jet = np.array([[100.0, 0.0, np.pi - 0.05], [100.0, 0.0, -np.pi + 0.05]])
    markers = event_display(ax, jet, centre=(0.0, np.pi))
    drawn_phi = np.sort(markers.get_offsets()[:, 1])
    np.testing.assert_allclose(drawn_phi, [np.pi - 0.05, np.pi + 0.05])
    # without a centre the centroid must also land between them, not at phi = 0
    fig, other = plt.subplots()
    event_display(other, jet)
    assert abs(abs(other.patches[0].center[1]) - np.pi) < 1e-9
    plt.close(fig)


def test_event_display_of_one_jet_from_a_jets(ax):
    jets = _toy_jets("top")
    markers = event_display(ax, jets[1])
    assert ax.patches[0].center == pytest.approx((0.02, 1.05))  # the jet's own axis
    assert ax.patches[0].get_radius() == pytest.approx(0.8)
    np.testing.assert_allclose(markers.get_facecolor()[0][:3], matplotlib.colors.to_rgb(PROCESS_COLORS["top"]))


def test_event_display_of_a_centred_jet_is_centred_at_zero(ax):
    prepared = preprocess(_toy_jets("W"), center=True, normalize=True)
    event_display(ax, prepared[0], label="micro-jets")
    assert ax.patches[0].center == pytest.approx((0.0, 0.0))
    labels = ax.get_legend_handles_labels()[1]
    assert "$p_T$-weighted centroid" in labels and "jet axis" not in labels


@pytest.mark.parametrize(
    "particles, mask, kwargs, message",
    [
        (TOY_JET[:, :2], None, {}, "shape"),
        (TOY_JET[None], None, {}, "shape"),
        (TOY_JET, TOY_MASK[:2], {}, "mask"),
        (TOY_JET, TOY_MASK.astype(int), {}, "mask"),
        (TOY_JET, np.zeros(4, dtype=bool), {}, "no particles"),
        (np.array([[1.0, np.nan, 0.0]]), None, {}, "NaN"),
        (np.array([[-1.0, 0.0, 0.0], [2.0, 0.1, 0.0]]), None, {}, "negative"),
        (np.zeros((2, 3)), None, {}, "zero"),
        (TOY_JET, TOY_MASK, {"R": 0.0}, "R must"),
        (TOY_JET, TOY_MASK, {"R": float("nan")}, "R must"),
        (TOY_JET, TOY_MASK, {"total_area": -5.0}, "total_area"),
        (TOY_JET, TOY_MASK, {"centre": (0.0, float("inf"))}, "centre"),
    ],
)
def test_event_display_rejects_bad_input(ax, particles, mask, kwargs, message):
    with pytest.raises(ValueError, match=message):
        event_display(ax, particles, mask, **kwargs)


def test_event_display_wants_one_jet_and_no_second_mask(ax):
    jets = _toy_jets()
    with pytest.raises(ValueError, match="one jet"):
        event_display(ax, jets)
    with pytest.raises(ValueError, match="its own mask"):
        event_display(ax, jets[0], TOY_MASK)


# ------------------------------------------------------------------------------------------
# compare_histograms
# ------------------------------------------------------------------------------------------


def test_compare_histograms_draws_one_normalised_histogram_per_sample(ax):
    samples = {"W": np.array([79.0, 81.0, 82.0, 250.0]), "QCD": np.array([30.0, 60.0]), "other": [5.0]}
    drawn = compare_histograms(ax, samples, np.linspace(0, 200, 21), "jet mass $m_J$ [GeV]")
    assert list(drawn) == ["W", "QCD", "other"]
    assert ax.get_xlabel() == "jet mass $m_J$ [GeV]"
    assert ax.get_ylabel() == "fraction of jets per bin"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [PROCESS_LABELS["W"], PROCESS_LABELS["QCD"], "other"]
    w_patch = drawn["W"][0]
    assert matplotlib.colors.to_hex(w_patch.get_edgecolor()) == PROCESS_COLORS["W"].lower()
    # the W jet at 250 GeV lies outside the bins but still counts in n: the heights sum to 3/4
    heights = np.histogram(samples["W"], bins=np.linspace(0, 200, 21), weights=np.full(4, 0.25))[0]
    polygon = w_patch.get_xy()
    assert polygon[:, 1].max() == pytest.approx(heights.max())
    assert heights.sum() == pytest.approx(0.75)


def test_compare_histograms_counts_colours_and_line_styles(ax):
    drawn = compare_histograms(ax, {"a": [1.0, 1.0, 2.0], "b": [1.5]}, 4, "x [GeV]", normalize=False,
                               colors={"a": "#123456"}, linestyles={"b": "--"}, ylabel="jets", legend=False)
    assert ax.get_ylabel() == "jets"
    assert ax.get_legend() is None
    assert matplotlib.colors.to_hex(drawn["a"][0].get_edgecolor()) == "#123456"
    # matplotlib stores line styles as (offset, dash pattern); solid has no pattern
    assert drawn["a"][0].get_linestyle()[1] is None
    assert len(drawn["b"][0].get_linestyle()[1]) == 2
    assert drawn["a"][0].get_xy()[:, 1].max() == pytest.approx(2.0)


@pytest.mark.parametrize(
    "samples, bins, xlabel, error, message",
    [
        ({}, 10, "x", ValueError, "empty"),
        ([1.0, 2.0], 10, "x", TypeError, "mapping"),
        ({"W": [1.0, np.nan]}, 10, "x", ValueError, "NaN"),
        ({"W": np.ones((2, 2))}, 10, "x", ValueError, "1-D"),
        ({"W": []}, 10, "x", ValueError, "empty"),
        ({"W": [1.0]}, 0, "x", ValueError, "bins"),
        ({"W": [1.0]}, [3.0, 2.0, 1.0], "x", ValueError, "increasing"),
        ({"W": [1.0]}, [1.0], "x", ValueError, "at least two"),
        ({"W": [1.0]}, 10, "", ValueError, "xlabel"),
    ],
)
def test_compare_histograms_rejects_bad_input(ax, samples, bins, xlabel, error, message):
    with pytest.raises(error, match=message):
        compare_histograms(ax, samples, bins, xlabel)


# ------------------------------------------------------------------------------------------
# colours, style, settings table
# ------------------------------------------------------------------------------------------


def test_process_colours_are_distinct_and_fixed():
    assert set(PROCESS_COLORS) == {"W", "top", "QCD"}
    assert len(set(PROCESS_COLORS.values())) == 3
    assert process_color("QCD") == PROCESS_COLORS["QCD"]
    with pytest.raises(ValueError, match="choose one of"):
        process_color("Z")
    with pytest.raises(TypeError):
        PROCESS_COLORS["W"] = "red"  # read-only: chapters cannot change each other's colours


def test_book_style_applies_and_is_read_only():
    with plt.style.context(BOOK_STYLE):
        assert plt.rcParams["font.size"] == BOOK_STYLE["font.size"]
        assert plt.rcParams["axes.spines.top"] is False
    with pytest.raises(TypeError):
        BOOK_STYLE["font.size"] = 30


def test_settings_table_lists_every_sample_and_setting():
    table = settings_table({"W": _toy_jets("W"), "QCD": _toy_jets("QCD")})
    assert isinstance(table, SettingsTable)
    assert table.columns == (PROCESS_LABELS["W"], PROCESS_LABELS["QCD"])
    rows = dict(table.rows)
    assert rows["hard process (Pythia 8 settings)"][0][:2] == ("WeakBosonAndParton:qqbar2Wg = on",
                                                              "WeakBosonAndParton:qg2Wq = on")
    assert rows["hard process (Pythia 8 settings)"][1] == ("HardQCD:all = on",)
    assert rows["multiparton interactions (underlying event)"] == (("off",), ("off",))
    assert rows["hard-process threshold pTHatMin [GeV]"] == (("450",), ("450",))
    assert rows["collisions"][0] == ("pp, √s = 13 TeV",)
    assert rows["jet window"][0] == ("500 < pT < 600 GeV, |η| < 2",)
    assert "ΔR < 0.6" in rows["truth matching"][0][0] and rows["truth matching"][1] == ("none",)
    assert all("Random:seed" not in line for cell in rows["hard process (Pythia 8 settings)"] for line in cell)


def test_settings_table_renders_as_markdown_and_html():
    table = settings_table({"top": _toy_jets("top"), "mine": _toy_jets("QCD")})
    markdown = table.to_markdown()
    lines = markdown.splitlines()
    assert lines[0] == "| setting | top jets | mine |"
    # 3 columns on every row; the escaped pipe of |eta| is not a separator
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 4 for line in lines)
    assert "`Top:gg2ttbar = on`<br>`Top:qqbar2ttbar = on`" in markdown
    assert repr(table) == markdown == table._repr_markdown_()
    html = table._repr_html_()
    assert html.startswith("<table>") and html.endswith("</table>")
    assert html.count("<tr>") == len(table.rows) + 1
    assert "<code>Top:gg2ttbar = on</code>" in html
    assert "500 &lt; pT &lt; 600 GeV" in html  # escaped, not read as tags


def test_settings_table_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        settings_table({})
    with pytest.raises(TypeError, match="must be a Jets"):
        settings_table({"W": np.zeros((2, 3))})
    bare = Jets(TOY_JET[None], TOY_MASK[None], [540.0], [0.0], [0.0], [80.0], "jetnet", {})
    with pytest.raises(ValueError, match="no generator settings"):
        settings_table({"public": bare})


# ---- figures of chapters 1 and 2 -------------------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from jetgeom_lite.plotting import (  # noqa: E402
    dimension_curves,
    error_survival,
    jet_image_panel,
    mark_values,
    transport_lines,
    two_prong_disk,
)


def test_legend_above_sits_outside_the_axes(ax):
    compare_histograms(ax, {"W": [0.3, 0.35], "QCD": [0.6, 0.7]}, np.linspace(0, 1, 11), "x", legend_loc="above")
    ax.figure.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    axes_box = ax.get_window_extent()
    assert legend_box.y0 >= axes_box.y1 - 1  # entirely above the data area
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["W jets", "QCD jets"]


def test_mark_values_draws_a_line_and_a_name_per_value(ax):
    ax.set_xlim(0, 300)
    added = mark_values(ax, {"$m_W$": 80.4, "$m_t$": 172.7}, colors={"$m_W$": "red"})
    lines = [a for a in added if hasattr(a, "get_xdata")]
    assert [line.get_xdata()[0] for line in lines] == [80.4, 172.7]
    assert [t.get_text() for t in ax.texts] == ["$m_W$", "$m_t$"]
    assert matplotlib.colors.same_color(lines[0].get_color(), "red")
    with pytest.raises(ValueError, match="positions"):
        mark_values(ax, {})
    with pytest.raises(ValueError, match="finite"):
        mark_values(ax, {"x": float("nan")})


def test_transport_lines_join_the_particles_that_exchange_pt(ax):
    a = np.array([[0.6, 0.0, 0.0], [0.4, 0.3, 0.1]])
    b = np.array([[0.5, 0.1, 0.0], [0.5, 0.3, 0.3]])
    flow = np.array([[0.5, 0.1], [0.0, 0.4]])  # the zero flow draws no line
    lines = transport_lines(ax, a, b, flow, max_width=10.0, smallest=0.0)
    segments = [np.asarray(s) for s in lines.get_segments()]
    expected = {((0.0, 0.0), (0.1, 0.0)), ((0.0, 0.0), (0.3, 0.3)), ((0.3, 0.1), (0.3, 0.3))}
    assert {tuple(map(tuple, np.round(s, 6))) for s in segments} == expected
    widths = sorted(lines.get_linewidths())
    assert widths == pytest.approx([2.0, 8.0, 10.0])  # proportional to 0.1, 0.4, 0.5
    with pytest.raises(ValueError, match="flow must have shape"):
        transport_lines(ax, a, b, flow[:1])
    with pytest.raises(ValueError, match="non-negative"):
        transport_lines(ax, a, b, -flow)


def test_jet_image_panel_shows_the_image_with_y_along_x(ax):
    edges = np.linspace(-0.2, 0.2, 5)
    image = np.zeros((4, 4))
    image[0, 3] = 0.7  # lowest y, highest phi
    image[2, 1] = 0.3
    mesh = jet_image_panel(ax, image, edges)
    shown = mesh.get_array().reshape(4, 4)  # rows phi, columns y
    assert shown[3, 0] == pytest.approx(0.7) and shown[1, 2] == pytest.approx(0.3)
    assert np.ma.count_masked(shown) == 14  # empty pixels are blank
    assert "phi" in ax.get_ylabel() and "[rad]" in ax.get_ylabel()
    with pytest.raises(ValueError, match="image must have shape"):
        jet_image_panel(ax, np.zeros((3, 4)), edges)
    with pytest.raises(ValueError, match="vmin"):
        jet_image_panel(ax, image, edges, vmin=0.0)


def test_dimension_curves_plot_the_results_and_the_pt_axis(ax):
    result = SimpleNamespace(Q=np.array([10.0, 20.0, 40.0]), dimension=np.array([3.0, 2.5, 1.0]),
                             lower=np.array([2.8, 2.4, 0.9]), upper=np.array([3.2, 2.6, 1.1]))
    lines = dimension_curves(ax, {"W": result, "skeleton": result}, linestyles={"skeleton": "--"},
                             pt_reference=550.0)
    np.testing.assert_allclose(lines["W"].get_ydata(), result.dimension)
    assert lines["skeleton"].get_linestyle() == "--"
    assert matplotlib.colors.same_color(lines["W"].get_color(), PROCESS_COLORS["W"])
    assert ax.get_xscale() == "log" and "[GeV]" in ax.get_xlabel()
    assert len(ax.child_axes) == 1  # the Q / pT axis
    with pytest.raises(TypeError, match="correlation_dimension"):
        dimension_curves(ax, {"W": np.ones(3)})
    with pytest.raises(ValueError, match="pt_reference"):
        dimension_curves(ax, {"W": result}, pt_reference=-1.0)


def test_error_survival_is_the_fraction_at_or_above_each_error(ax):
    rng = np.random.default_rng(3)
    errors = rng.lognormal(-4, 1, 200)
    line = error_survival(ax, {"eps": errors})["eps"]
    x, y = line.get_xdata(), line.get_ydata()
    independent = np.array([np.mean(errors >= value) for value in x])  # distinct values: no ties
    np.testing.assert_allclose(y, independent)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="finite"):
        error_survival(ax, {"eps": np.array([0.1, np.nan])})


def test_two_prong_disk_places_jets_by_sharing_and_direction(ax):
    balance = np.array([0.5, 0.5, 0.1, 0.0])
    angle = np.array([0.3, 0.3 + np.pi, -np.pi / 2, 1.0])
    points = two_prong_disk(ax, balance, angle, values=np.array([1.0, 2.0, 3.0, 4.0]))
    xy = points.get_offsets()
    np.testing.assert_allclose(np.hypot(xy[:, 0], xy[:, 1]), balance, atol=1e-12)
    np.testing.assert_allclose(xy[0], -xy[1], atol=1e-12)  # a symmetric decay and its turn by pi: antipodes
    np.testing.assert_allclose(xy[2], [0.0, -0.1], atol=1e-12)
    np.testing.assert_allclose(points.get_array(), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"\[0, 0.5\]"):
        two_prong_disk(ax, np.array([0.7]), np.array([0.0]))
    with pytest.raises(ValueError, match="same length"):
        two_prong_disk(ax, np.array([0.2, 0.3]), np.array([0.0]))
