"""The report's blocks (headings, paragraphs, tables, figures) written as Markdown with linked PNGs
and as self-contained HTML with the PNGs embedded."""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import numpy as np


def _fmt(v: Any, floatfmt: str) -> str:
    """A cell's text: a float by ``floatfmt``, a count with thousands separated as the report's text
    writes it (``3,655`` systems, not ``3655``).

    >>> _fmt(3655, "{:.3f}"), _fmt(np.int64(25), "{:.3f}"), _fmt(0.0528, "{:.3f}"), _fmt(True, "{:.3f}")
    ('3,655', '25', '0.053', 'True')
    """
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else floatfmt.format(v)
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return f"{v:,}"
    return str(v)


def _rows(df, index: bool, floatfmt: str) -> list[list[str]]:
    """The table's cells as text, each column by its own type: a count stays ``25``, where
    ``DataFrame.iterrows`` would make a row of ints and floats all floats (``25.000``)."""
    return [([str(idx)] if index else []) + [_fmt(v, floatfmt) for v in row]
            for idx, row in zip(df.index, df.itertuples(index=False, name=None))]


def markdown(blocks: list[tuple]) -> str:
    """Markdown of the blocks; figures link their PNG files."""
    lines = []
    for b in blocks:
        if b[0] == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "table":
            df, index, ff = b[1], b[2], b[3]
            cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |")
            lines.append("|" + "---|" * len(cols))
            for cells in _rows(df, index, ff):
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
            lines.append("")
        elif b[0] == "img":
            lines += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}*", ""]
    return "\n".join(lines)


_CSS = """body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}td:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee}figcaption{font-size:0.9em;color:#555;margin-bottom:1.5em}
code{background:#f5f5f5;padding:0 3px}"""


def to_html(blocks: list[tuple], out: Path, title: str) -> str:
    """One HTML page of the blocks, the PNGs (read from ``out``) embedded."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b[0] == "h":
            parts.append(f"<h{b[1]}>{html.escape(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            text = html.escape(b[1])
            # `code` spans and **bold** as in the Markdown
            text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
            text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
            parts.append(f"<p>{text}</p>")
        elif b[0] == "table":
            df, index, ff = b[1], b[2], b[3]
            cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
            rows = ["<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"]
            for cells in _rows(df, index, ff):
                rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            parts.append("<table>" + "".join(rows) + "</table>")
        elif b[0] == "img":
            data = base64.b64encode((out / b[1]).read_bytes()).decode("ascii")
            parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(b[2])}'>"
                         f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["markdown", "to_html"]
