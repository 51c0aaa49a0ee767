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
    ax.legend(fontsize=8, loc="best")  # clear of the formula labels: "best" weighs texts from matplotlib 3.9
    fig.tight_layout()
    if path is not None:
        import matplotlib.pyplot as plt  # the callers have imported it already

        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


# where a label may go around its point: directions (degrees, below first, then above, the sides,
# the diagonals, then between) and clearances (points between the point's marker and the text box)
_DIRECTIONS = (270, 90, 0, 180, 315, 225, 45, 135, 292.5, 247.5, 67.5, 112.5, 337.5, 202.5, 22.5, 157.5)
_CLEARANCES = (1.5, 5, 10, 16, 24, 34, 46, 60, 76)
_LEADER_FROM = 8  # points: a label farther out than this from its point gets a thin line back to it
_LABEL_GAP = 4  # points: the least room between two labels, so that side by side they read as two


def _obstacles(ax):
    """What a label must not cover, in display coordinates: the boxes of the markers of ``ax``'s
    lines (scatter plots are background, under the labels' pale boxes) and of its texts, and
    points sampled every few pixels along its drawn lines."""
    marks, centres, samples = [np.zeros((0, 4))], [np.zeros((0, 2))], [np.zeros((0, 2))]
    for line in ax.lines:
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        xy = xy[np.isfinite(xy).all(axis=1)]
        if line.get_marker() not in (None, "None", "none", "", " ") and len(xy):
            r = (line.get_markersize() + line.get_markeredgewidth()) / 2 * ax.figure.dpi / 72
            marks.append(np.column_stack([xy - r, xy + r]))
            centres.append(xy)
        if line.get_linestyle() not in ("None", "none", "", " ") and len(xy) > 1:
            for a, b in zip(xy[:-1], xy[1:]):
                t = np.linspace(0, 1, max(2, int(np.hypot(*(b - a)) / 3) + 1))[:, None]
                samples.append(a + t * (b - a))
    for text in ax.texts:
        bb = text.get_window_extent()
        marks.append(np.array([[bb.x0, bb.y0, bb.x1, bb.y1]]))
    return np.vstack(marks), np.vstack(centres), np.vstack(samples)


def _overlap(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Area each of ``boxes`` (n, 4: x0 y0 x1 y1) shares with ``others`` (m, 4), summed."""
    if not len(others):
        return np.zeros(len(boxes))
    w = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(boxes[:, None, 0], others[None, :, 0])
    h = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(boxes[:, None, 1], others[None, :, 1])
    return (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=1)


def _box_distance(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance (n, m) from each box to each point (0 inside)."""
    dx = np.maximum(boxes[:, None, 0] - points[None, :, 0], 0) + np.maximum(points[None, :, 0] - boxes[:, None, 2], 0)
    dy = np.maximum(boxes[:, None, 1] - points[None, :, 1], 0) + np.maximum(points[None, :, 1] - boxes[:, None, 3], 0)
    return np.hypot(dx, dy)


def place_labels(ax, x, y, labels, *, color, fontsize: float = 7) -> None:
    """Annotate the points ``(x, y)`` with ``labels`` (``color``: one colour, or one per label), on
    a pale box that keeps each readable over lines. Each goes where its text box, measured by the
    renderer, overlaps no other label, no marker of the axes' lines and no text already there, stays
    inside the axes, crosses as few drawn lines as it can and lies clearly nearer its own point than
    any other marker (at most half as far), as close to its point as that allows; a label that has to
    sit farther out, or nearer another marker, gets a thin line back to its point. Scatter plots are
    background, under the labels. Call after the axes' contents and title are drawn: the axes'
    limits are fixed from here on, and a later ``tight_layout`` leaves the labels out."""
    fig = ax.figure
    fig.tight_layout()
    ax.set_xlim(ax.get_xlim())  # fixed from here on: the placement is in display coordinates
    ax.set_ylim(ax.get_ylim())
    ax.apply_aspect()  # an equal-aspect (ternary) axes takes its drawn shape now, not at drawing
    if not len(labels):
        return
    colors = [color] * len(labels) if isinstance(color, str) else list(color)
    anchors = ax.transData.transform(np.column_stack([x, y]).astype(float))
    marks, centres, samples = _obstacles(ax)
    frame = ax.bbox
    pt = fig.dpi / 72
    style = dict(textcoords="offset points", ha="center", va="center", fontsize=fontsize,
                 bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.75})
    sizes = []
    for label in labels:  # the renderer's size of each text box
        probe = ax.annotate(label, (0, 0), xytext=(0, 0), **style)
        bb = probe.get_window_extent()
        sizes.append((bb.width + 2, bb.height + 2))
        probe.remove()
    # each label's own marker: the largest marker drawn at its point
    mid, half = (marks[:, :2] + marks[:, 2:]) / 2, (marks[:, 2] - marks[:, 0]) / 2
    own_r = np.array([half[np.hypot(*(mid - a).T) < 1.5].max(initial=3.0) for a in anchors])
    apart = _LABEL_GAP * pt * np.array([-1, -1, 1, 1])  # the other labels' boxes, widened by the gap
    theta = np.radians(_DIRECTIONS)
    u = np.column_stack([np.cos(theta), np.sin(theta)])
    u[np.abs(u) < 1e-9] = 0.0
    cands = []
    for (w, h), a, r in zip(sizes, anchors, own_r):
        with np.errstate(divide="ignore"):
            reach = np.minimum(np.where(u[:, 0] != 0, w / 2 / np.abs(u[:, 0]), np.inf),
                               np.where(u[:, 1] != 0, h / 2 / np.abs(u[:, 1]), np.inf))
        rows = []
        for gap in _CLEARANCES:
            c = a + u * (r + gap * pt + reach)[:, None]
            rows.append(np.column_stack([c[:, 0] - w / 2, c[:, 1] - h / 2, c[:, 0] + w / 2, c[:, 1] + h / 2,
                                         np.full(len(u), gap), np.arange(len(u))]))
        cands.append(np.vstack(rows))

    def costs(i, others):
        box = cands[i][:, :4]
        outside = (np.clip(frame.x0 - box[:, 0], 0, None) + np.clip(box[:, 2] - frame.x1, 0, None)
                   + np.clip(frame.y0 - box[:, 1], 0, None) + np.clip(box[:, 3] - frame.y1, 0, None))
        d = _box_distance(box, centres) if len(centres) else np.zeros((len(box), 0))
        mine = np.hypot(*(centres - anchors[i]).T) < 1.5 if len(centres) else np.zeros(0, bool)
        own = _box_distance(box, anchors[i][None])[:, 0]
        nearer = (d[:, ~mine] < 2 * own[:, None] + 3).any(axis=1) if (~mine).any() else np.zeros(len(box), bool)
        near_samples = samples[np.hypot(*(samples - anchors[i]).T) < 250] if len(samples) else samples
        crossing = ((near_samples[None, :, 0] >= box[:, None, 0]) & (near_samples[None, :, 0] <= box[:, None, 2])
                    & (near_samples[None, :, 1] >= box[:, None, 1])
                    & (near_samples[None, :, 1] <= box[:, None, 3])).sum(axis=1) if len(near_samples) else 0
        hard = _overlap(box, others + apart) + _overlap(box, marks) + 100 * outside
        leader = nearer | (cands[i][:, 4] > _LEADER_FROM)
        return 1000 * hard + 2 * crossing + cands[i][:, 4] + 6 * nearer + 0.05 * cands[i][:, 5], leader

    # most crowded points first, then each label again with all the others in place
    crowd = np.array([(np.hypot(*(anchors - a).T) < 60).sum() for a in anchors])
    order = sorted(range(len(labels)), key=lambda i: (-crowd[i], anchors[i][0]))
    chosen: dict[int, int] = {}
    leaders: dict[int, bool] = {}  # whether the chosen place needs a line back (whatever the other labels)
    for _ in range(2):
        for i in order:
            chosen.pop(i, None)
            others = np.array([cands[j][k, :4] for j, k in chosen.items()]).reshape(-1, 4)
            cost, leader = costs(i, others)
            chosen[i] = int(np.argmin(cost))
            leaders[i] = bool(leader[chosen[i]])
    for i, k in chosen.items():
        box = cands[i][k, :4]
        offset = ((box[:2] + box[2:]) / 2 - anchors[i]) / pt
        ax.annotate(labels[i], ax.transData.inverted().transform(anchors[i]), xytext=tuple(offset), color=colors[i],
                    arrowprops={"arrowstyle": "-", "color": colors[i], "lw": 0.4, "shrinkA": 0, "shrinkB": 2}
                    if leaders[i] else None, **style).set_in_layout(False)  # a later tight_layout keeps the axes


def cell_text_colour(rgba) -> str:
    """The colour of text written on a cell of colour ``rgba`` (0..1, as a colour map returns it):
    ``"white"`` on a dark cell (luma, ITU-R BT.601, below 0.5), else ``"black"``. The one rule of
    every heatmap hullpack draws (the group-pair heatmaps of :mod:`hullpack.screening.dft`, :mod:`hullpack.xai.plots`).

    >>> cell_text_colour((0.27, 0.0, 0.33, 1.0)), cell_text_colour((0.99, 0.91, 0.14))   # viridis' ends
    ('white', 'black')
    """
    return "white" if 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5 else "black"
