"""The report page as one HTML string: inline CSS, no JavaScript library, no network.

Every media or plot reference goes through ``url`` (a function from a file to a path relative to the
page), so the page works opened from disk, copied with its assets folder, or served as static
files. Videos are HTML5 ``<video>`` elements with the mp4 (H.264) source; when the browser cannot
play it, a four-line inline handler swaps in the gif written beside it.
"""

from __future__ import annotations

import html
import math
import statistics
from pathlib import Path
from typing import Callable, Sequence

import yaml

from provgan.config import yaml_load
from provgan.report.curves import Panel
from provgan.report.run_folder import Media, MetricsRecord, RunFolder

Url = Callable[[Path], str]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0cf;font-size:12px;word-break:break-all}
main{padding:8px 28px 40px;max-width:1400px}section{margin-top:22px}
h2{font-size:16px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0;background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:8px}
figcaption{font-size:12px;color:#4a5366;margin-top:4px}figcaption a{color:#3b6fd8;margin-left:6px}
.media{display:block;image-rendering:pixelated;max-width:100%;min-width:160px;background:#000}
img.plot{display:block;width:520px;max-width:100%}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #e1e4ea;padding:4px 10px;text-align:right}th{background:#eef0f4}
td:first-child,th:first-child{text-align:left}table.kv td{text-align:left}
pre{background:#fff;border:1px solid #e1e4ea;padding:10px;font-size:12px;overflow:auto;max-height:520px}
.note{color:#6a7385;font-style:italic}
"""

FALLBACK_JS = """function gifFallback(source){var v=source.parentNode,g=v.getAttribute('data-gif');
if(!g){return;}var i=document.createElement('img');i.src=g;i.alt=v.getAttribute('aria-label')||'';
i.className='media';v.replaceWith(i);}"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt_number(value: object) -> str:
    """4 significant digits for floats, ``mean ± std`` for ``{mean, std}`` dicts, text otherwise."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, dict) and "mean" in value:
        std = f" ± {fmt_number(value['std'])}" if "std" in value else ""
        return fmt_number(value["mean"]) + std
    if isinstance(value, list):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(value)
    return str(value)


def video_html(media: Media, url: Url) -> str:
    """A looping muted <video> (mp4) with its gif as fallback, or the gif alone; links to both files."""
    links = " ".join(f'<a href="{esc(url(p))}">{p.suffix[1:]}</a>' for p in media.files)
    caption = f"<figcaption>{esc(media.label)}{links and ' · ' + links}</figcaption>"
    if media.mp4 is None:
        return f'<figure><img class="media" src="{esc(url(media.gif))}" alt="{esc(media.label)}">{caption}</figure>'
    gif = f' data-gif="{esc(url(media.gif))}"' if media.gif is not None else ""
    inner = f'<img class="media" src="{esc(url(media.gif))}" alt="{esc(media.label)}">' if media.gif else ""
    return (f'<figure><video class="media" autoplay loop muted playsinline controls preload="auto"'
            f' aria-label="{esc(media.label)}"{gif}><source src="{esc(url(media.mp4))}" type="video/mp4"'
            f' onerror="gifFallback(this)">{inner}</video>{caption}</figure>')


def videos_section(title: str, medias: Sequence[Media], url: Url, empty: str) -> str:
    body = "".join(video_html(m, url) for m in medias) if medias else f'<p class="note">{esc(empty)}</p>'
    return f'<section><h2>{esc(title)}</h2><div class="grid">{body}</div></section>'


def curves_section(plots: Sequence[tuple[Panel, Path]], url: Url) -> str:
    if not plots:
        return '<section><h2>Training curves</h2><p class="note">stats.jsonl has no rows yet.</p></section>'
    figs = "".join(f'<figure><img class="plot" src="{esc(url(p))}" alt="{esc(panel.title)}"></figure>'
                   for panel, p in plots)
    return f'<section><h2>Training curves</h2><div class="grid">{figs}</div></section>'


def metric_columns(records: Sequence[MetricsRecord]) -> list[str]:
    """Metric names in first-seen order, without ``x_std`` where ``x`` exists (shown as ``x ± std``)."""
    names: list[str] = []
    for r in records:
        names += [k for k in r.values if k not in names]
    return [k for k in names if not (k.endswith("_std") and k[:-4] in names)]


def metric_cell(values: dict, name: str) -> str:
    if name not in values:
        return ""
    text = fmt_number(values[name])
    if f"{name}_std" in values and not isinstance(values[name], dict):
        text += f" ± {fmt_number(values[f'{name}_std'])}"
    return text


def metrics_section(records: Sequence[MetricsRecord]) -> str:
    if not records:
        return ""
    cols = metric_columns(records)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["file", "kimg", "level", "clip", *cols])
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in
                         [r.path.name, fmt_number(r.kimg), fmt_number(r.context.get("level", "")),
                          fmt_number(r.context.get("clip_shape", "")), *(metric_cell(r.values, c) for c in cols)])
        + "</tr>" for r in records)
    return f"<section><h2>Metrics</h2><table><tr>{head}</tr>{rows}</table></section>"


def config_section(text: str | None) -> str:
    if text is None:
        return '<section><h2>Resolved config</h2><p class="note">no config.yaml in the run folder.</p></section>'
    return (f'<section><h2>Resolved config</h2><details open><summary>config.yaml</summary>'
            f"<pre>{esc(text)}</pre></details></section>")


def _finite(rows: Sequence[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]


def _progress(last: dict, plan: list[tuple]) -> str:
    level = last.get("Progress/level")
    text = f"{last['kimg']:g} kimg"
    if isinstance(level, (int, float)) and math.isfinite(level):
        shape = f" ({'x'.join(map(str, plan[int(level)]))})" if int(level) < len(plan) else ""
        text += f", level {int(level)}{shape}, fade alpha {fmt_number(last.get('Progress/alpha', ''))}"
    return text


def summary_rows(run: RunFolder) -> list[tuple[str, str]]:
    """Key facts: loss, plan, progress, checkpoints, speed and memory."""
    cfg = _config_dict(run.config_text)
    plan = [tuple(s) for s in cfg.get("model", {}).get("plan", [])]
    rows = [("run folder", str(run.path.resolve()))]
    if cfg:
        rows.append(("loss", str(cfg.get("loss", {}).get("name", "?"))))
        rows.append(("level plan", " → ".join("x".join(map(str, s)) for s in plan)))
    if run.stats:
        rows.append(("progress", _progress(run.stats[-1], plan)))
    if speeds := _finite(run.stats[-10:], "Timing/clips_per_sec"):
        rows.append(("speed (median of the last rows)", f"{statistics.median(speeds):.3g} clips/s"))
    if mems := _finite(run.stats, "Resources/peak_mem_gb"):
        rows.append(("peak memory", f"{max(mems):.3g} GB"))
    ckpts = run.checkpoints
    rows.append(("checkpoints", f"{len(ckpts)} kept, newest {ckpts[-1].name}" if ckpts else "none yet"))
    if (run.path / "tensorboard").is_dir():
        rows.append(("live curves", f"tensorboard --logdir {run.path.resolve() / 'tensorboard'}"))
    return rows


def _config_dict(text: str | None) -> dict:
    try:
        data = yaml_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def render_page(run: RunFolder, plots: Sequence[tuple[Panel, Path]], url: Url, generated: str) -> str:
    """The whole page; ``url`` maps each referenced file to its path relative to the page."""
    title = f"provgan run · {run.path.resolve().name}"
    summary = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in summary_rows(run))
    samples = list(run.level_finals) + ([run.latest_samples] if run.latest_samples else [])
    parts = [
        f'<section><h2>Summary</h2><table class="kv">{summary}</table></section>',
        videos_section("Samples: final grid of every level (G_ema, fixed latents)", samples, url,
                       "no sample videos yet (samples/ is empty)."),
        videos_section("Latent interpolations (Appendix B)", run.interpolations, url,
                       "none yet: provgan interpolate RUN --seeds 0,1,2 --out RUN/samples/interpolation.mp4"),
        metrics_section(run.metrics),
        curves_section(plots, url),
        config_section(run.config_text),
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f'<link rel="icon" href="data:,"><style>{CSS}</style><script>{FALLBACK_JS}</script></head>'
            f"<body><header><h1>{esc(title)}</h1><p>{esc(run.path.resolve())} · report written {esc(generated)}"
            f"</p></header><main>{''.join(parts)}</main></body></html>\n")
