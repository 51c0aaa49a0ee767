"""Drawing helpers shared by the screening and stability plots: ternary compositions on an
equilateral triangle (first element at the lower left, second at the lower right, third on top).
Needs matplotlib only through the ``ax`` it is given."""
from __future__ import annotations

import numpy as np

__all__ = ["draw_ternary_facets", "finish_figure", "label_triangle", "triangle_xy"]

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
