"""``xqg report EXPERIMENT_DIR``: an experiment's summary, tables and plots as one self-contained HTML page.

The page is ``summary.md`` rendered (Python-Markdown, tables extension), then the full tables
(``leaderboard.md``, ``per_language.md``, ``per_language_all.md``, whichever exist) in
collapsible sections, then every PNG under the dir that the summary does not already show (e.g.
an ``xqg eval --plot`` written there). Every image is inlined as a ``data:`` URI and the style
sheet is inline, so the file opens anywhere, offline, on its own; an image the summary names
that is missing, or lies outside the dir, is an error.
"""

from __future__ import annotations

import argparse
import base64
import html
import re
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file

SUMMARY = "summary.md"
TABLE_FILES = ("leaderboard.md", "per_language.md", "per_language_all.md")
DEFAULT_OUTPUT = "report.html"
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".svg": "image/svg+xml"}
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")
IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")')
STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: 13px; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; } tbody tr:nth-child(even) { background: #fafafa; }
code { background: #f4f4f4; padding: 0 .25em; border-radius: 3px; font-size: 90%; }
pre { background: #f4f4f4; padding: .8em; overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0; }
details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
figure { margin: 1em 0; } figcaption { font-size: 13px; color: #555; }
"""


def _markdown(text: str) -> str:
    import markdown

    return markdown.markdown(text, extensions=list(MARKDOWN_EXTENSIONS), output_format="html")


def _data_uri(path: Path) -> str:
    mime = IMAGE_TYPES.get(path.suffix.lower())
    if mime is None:
        raise InputError(f"not an image type the page can inline ({', '.join(IMAGE_TYPES)})", path=path)
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _image_path(root: Path, src: str, referrer: Path) -> Path:
    """The file an ``<img src>`` of ``referrer`` names, inside ``root``; otherwise InputError."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.IGNORECASE):
        raise InputError(f"refers to an image by URL ({src[:60]}), which a self-contained page cannot inline",
                         path=referrer)
    from urllib.parse import unquote

    path = (referrer.parent / unquote(src)).resolve()
    if not path.is_relative_to(root.resolve()):
        raise InputError(f"refers to an image outside the experiment dir: {src}", path=referrer)
    if not path.is_file():
        raise InputError(f"refers to the image {src}, which is missing", path=referrer)
    return path


def _inline_images(body: str, root: Path, referrer: Path, used: set[Path]) -> str:
    def inline(match: re.Match) -> str:
        path = _image_path(root, html.unescape(match.group(2)), referrer)
        used.add(path)
        return match.group(1) + _data_uri(path) + match.group(3)

    return IMG_SRC.sub(inline, body)


def _title(summary: str, root: Path) -> str:
    heading = next((line[2:].strip() for line in summary.splitlines() if line.startswith("# ")), "")
    return heading.replace("`", "") or f"Experiment {root.name}"


def render_report(experiment_dir: str | Path) -> str:
    """The self-contained HTML page of an experiment output dir."""
    root = Path(experiment_dir)
    summary_path = root / SUMMARY
    if not summary_path.is_file():
        raise InputError(f"not an experiment output dir: no {SUMMARY}", path=root)
    summary = summary_path.read_text(encoding="utf-8")
    used: set[Path] = set()
    parts = [_inline_images(_markdown(summary), root, summary_path, used)]
    tables = [root / name for name in TABLE_FILES if (root / name).is_file()]
    if tables:
        parts.append("<h2>Tables</h2>")
        for path in tables:
            body = _inline_images(_markdown(path.read_text(encoding="utf-8")), root, path, used)
            parts.append(f"<details><summary>{html.escape(path.name)}</summary>\n{body}\n</details>")
    others = [p for p in sorted(root.rglob("*.png"))
              if p.resolve() not in used and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if others:
        parts.append("<h2>Other plots</h2>")
        for path in others:
            name = html.escape(path.relative_to(root).as_posix())
            parts.append(f'<figure><img src="{_data_uri(path)}" alt="{name}"><figcaption>{name}</figcaption>'
                         "</figure>")
    title = html.escape(_title(summary, root))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(parts) + "\n</main>\n</body>\n</html>\n")


def write_report(experiment_dir: str | Path, output: str | Path | None = None) -> Path:
    """Render :func:`render_report` into ``output`` (default ``EXPERIMENT_DIR/report.html``), atomically."""
    page = render_report(experiment_dir)
    output = Path(output) if output is not None else Path(experiment_dir) / DEFAULT_OUTPUT
    with atomic_file(output) as handle:
        handle.write(page)
    return output


def cmd_report(args: argparse.Namespace) -> int:
    output = write_report(args.experiment_dir, args.output)
    print(f"report of {args.experiment_dir} written to {output} ({output.stat().st_size // 1024} KiB, self-contained)")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="an experiment's summary, tables and plots as one self-contained HTML page")
    p.add_argument("experiment_dir", metavar="EXPERIMENT_DIR", help="output dir of xqg experiment")
    p.add_argument("--output", default=None, metavar="FILE.html",
                   help=f"the page (default: EXPERIMENT_DIR/{DEFAULT_OUTPUT})")
    p.set_defaults(func=cmd_report)
