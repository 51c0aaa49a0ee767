"""Drawing helpers shared by the screening, stability and XElemNet plots: ternary compositions on an
equilateral triangle (first element at the lower left, second at the lower right, third on top),
labels that avoid each other, and the colour of text on a heatmap's cells. Needs matplotlib only
through the ``ax`` it is given."""
from __future__ import annotations

import numpy as np

__all__ = ["cell_text_colour", "draw_ternary_facets", "finish_figure", "label_triangle", "place_labels", "triangle_xy"]

_HEIGHT = 3 ** 0.5 / 2


def triangle_xy(fractions: np.ndarray, order=(0, 1, 2)) -> tuple[np.ndarray, np.ndarray]:
    """Plot coordinates of ``(n, 3)`` fractions whose columns, taken in ``order``, are the
    triangle's lower-left, lower-right and top elements.

    >>> x, y = triangle_xy(np.array([[1.0, 0, 0], [0, 0, 1.0]]))
    >>> x.tolist(), y.round(3).tolist()
    ([0.0, 0.5], [0.0, 0.866])
    """
    g = np.asarray(fractions, dtype=np.float64)[:, list(order)]
    return g[:, 1] + 0.5 * g[:, 2], g[:, 2] * _HEIGHT


def draw_ternary_facets(ax, facets, fractions: np.ndarray, order=(0, 1, 2), **style) -> None:
    """Outline each facet of a ternary lower hull (``LowerHull.facets``: point indices, the pure
    elements as -1, -2, -3) on ``ax``; ``style`` goes to ``ax.plot``."""
    corners = np.eye(3)
    for tri in facets:
        pts = np.array([corners[-1 - v] if v < 0 else fractions[v] for v in tri])
        ax.plot(*triangle_xy(np.vstack([pts, pts[:1]]), order), **style)


def label_triangle(ax, symbols) -> None:
    """Write the three element symbols at the triangle's corners and hide the axes."""
    for k, (cx, cy) in enumerate(zip((0.0, 1.0, 0.5), (0.0, 0.0, _HEIGHT))):
        ax.annotate(symbols[k], (cx, cy), textcoords="offset points", xytext=(0, 6 if k == 2 else -14), ha="center")
    ax.set_aspect("equal")
    ax.axis("off")


def finish_figure(fig, ax, title: str, path=None):
    """Title, legend and layout; saved to ``path`` (and closed) when one is given. Returns ``fig``."""
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    if path is not None:
        import matplotlib.pyplot as plt  # the callers have imported it already

        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


# label offsets (points) tried in turn around a point: below, above, the sides, then farther out
_LABEL_OFFSETS = [(0, -11), (0, 6), (7, -3), (-7, -3), (9, -13), (-9, -13), (9, 6), (-9, 6),
                  (0, -21), (0, 15), (16, -20), (-16, -20), (16, 14), (-16, 14), (0, -31), (0, 25)]


def place_labels(ax, x, y, labels, *, color, fontsize: float = 7) -> None:
    """Annotate the points ``(x, y)`` with ``labels`` (``color``: one colour, or one per label),
    each at the first offset of a fixed list
    around its point where its text box overlaps no label placed before and no labelled point
    (else where it overlaps least), on a pale box that keeps it readable over lines, with a thin
    line back to the point when it sits farther out. Text boxes are estimated from the font size;
    call after the axes' contents are drawn."""
    fig = ax.figure
    fig.tight_layout()
    ax.set_xlim(ax.get_xlim())  # fixed from here on: the placement is in display coordinates
    ax.set_ylim(ax.get_ylim())
    px = fontsize * fig.dpi / 72  # points -> pixels
    anchors = ax.transData.transform(np.column_stack([x, y])) if len(labels) else np.zeros((0, 2))
    marks = [(ax_ - 4, ay - 4, ax_ + 4, ay + 4) for ax_, ay in anchors]
    placed: list[tuple[float, float, float, float]] = []

    def overlap(box, others):
        return sum(max(0.0, min(box[2], o[2]) - max(box[0], o[0])) * max(0.0, min(box[3], o[3]) - max(box[1], o[1]))
                   for o in others)

    colors = [color] * len(labels) if isinstance(color, str) else list(color)
    for (ax_, ay), label, color in sorted(zip(anchors.tolist(), labels, colors), key=lambda t: (t[0][0], t[0][1])):
        w, h = 0.6 * px * len(label), 1.2 * px
        best = None
        for dx, dy in _LABEL_OFFSETS:
            cx, cy = ax_ + dx * fig.dpi / 72, ay + dy * fig.dpi / 72
            left = cx - w / 2 if dx == 0 else cx if dx > 0 else cx - w
            box = (left, cy - h / 2, left + w, cy + h / 2)
            cost = overlap(box, placed) + overlap(box, marks)
            if best is None or cost < best[0]:
                best = (cost, dx, dy, box)
            if cost == 0:
                break
        _, dx, dy, box = best
        placed.append(box)
        far = abs(dx) > 10 or abs(dy) > 14
        ax.annotate(label, ax.transData.inverted().transform((ax_, ay)), textcoords="offset points", xytext=(dx, dy),
                    ha="center" if dx == 0 else "left" if dx > 0 else "right", va="center", fontsize=fontsize,
                    color=color, bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.75},
                    arrowprops={"arrowstyle": "-", "color": color, "lw": 0.4} if far else None)


def cell_text_colour(rgba) -> str:
    """The colour of text written on a cell of colour ``rgba`` (0..1, as a colour map returns it):
    ``"white"`` on a dark cell (luma, ITU-R BT.601, below 0.5), else ``"black"``. The one rule of
    every heatmap hullpack draws (the group-pair heatmaps of :mod:`hullpack.screening.dft`, :mod:`hullpack.xai.plots`).

    >>> cell_text_colour((0.27, 0.0, 0.33, 1.0)), cell_text_colour((0.99, 0.91, 0.14))   # viridis' ends
    ('white', 'black')
    """
    return "white" if 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5 else "black"
