"""``REPORT.md`` of the study from the collected ``info`` (the dict written as ``results.json``)."""

from __future__ import annotations

from typing import Any

from tools.study.report import DIET_ARMS, SCALE_ROWS, table

INTRO = """\
Reproduces on images the experiment of Sakarvadia et al. 2025, "The False Promise of Zero-Shot
Super-Resolution in Machine-Learned Operators": models trained at one resolution are tested at
other resolutions ("zero-shot"), against a data-driven multi-resolution diet (mostly cheap
low-resolution data plus a small share of native-resolution data) and a band-limited baseline
("limit the bandwidth"). Every arm trains the same small network with the same compute budget
(iterations x batch x GT patch); see the compute table for the FLOPs each actually costs."""

DEFINITIONS = """\
- Test resolution r: the held-out HR images downsampled by r with MATLAB bicubic and rounded to
  8 bits (`HR_r = round8(imresize(HR, r))`); each is then degraded x4 and super-resolved as in the
  standard protocol (`sr.inference.evaluate`, protocol `y`, crop 4).
- PSNR/SSIM: on the MATLAB luma (Y), 8-bit levels, 4 border pixels dropped.
- `hf` = `hf_error`: residual energy above the LR Nyquist frequency over the GT's energy there
  (0 perfect, ~1 an output without those frequencies, ~2 texture of the right energy but wrong).
- `spur` = `spurious_energy`: energy the output adds where it has >= 4x the GT's power (aliasing,
  hallucinated texture), in units of the GT's energy above the LR Nyquist (0 for a blurry output).
- `lf_error` (in results.json): as `hf_error` below the LR Nyquist. Definitions in
  `sr/metrics/spectral.py`. Bold: best PSNR of the column."""


def _load(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def _compute_table(info: dict[str, Any]) -> str:
    lines = [
        "| arm | what | scale | iterations | batch | GT patch | LR patch | GFLOP/iter | total TFLOP | "
        "train wall time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, c in info["compute"].items():
        wall = info["wall_time_s"]["arms"].get(arm)
        wall_text = "n/a" if wall is None else f"{wall:.0f} s" + (" (reused)" if c.get("reused") else "")
        lines.append(
            f"| {arm} | {c['description']} | {c['scale']} | {c['iters']} | {c['batch']} | {c['gt_size']} | "
            f"{c['lr_patch']} | {c['gflop_per_iter']:.2f} | {c['total_tflop']:.2f} | {wall_text} |"
        )
    return "\n".join(lines)


def render(info: dict[str, Any]) -> str:
    """The whole report as markdown."""
    labels = info["resolution_labels"]
    s = info["setup"]
    m = info["machine"]
    w = info["wall_time_s"]
    parts = ["# Mixed-resolution training vs zero-shot super-resolution (issue 5 study)", "", INTRO, ""]
    if info["quick"]:
        parts += [
            "> **QUICK RUN** (`--quick`): a few iterations per arm and 2 test images per set. The "
            "numbers only show that the pipeline works end to end; they say nothing about the question.",
            "",
        ]
    parts += [
        "## How it was run",
        "",
        "```",
        info["command"],
        "```",
        "",
        f"- seed: {s['seed']} (`manual_seed` of every arm); iterations per arm: {s['iters']}",
        f"- model: MSRResNet num_feat {s['num_feat']}, num_block {s['num_block']}; L1; Adam lr {s['lr']:g} "
        f"(0.9, 0.99), cosine to 1e-6; batch {s['batch']}, GT patch {s['gt_size']}; no EMA; "
        "no validation during training",
        f"- training data: {s['train']}",
        f"- test sets: {', '.join(f'{k} ({v})' for k, v in info['test_sets'].items())}",
    ]
    parts += [f"- skipped: {msg}" for msg in info.get("skipped", [])]
    parts += [
        f"- machine: {m['cpu']}, nproc {m['nproc']}, torch {m['torch']} ({m['threads']} thread(s)), "
        f"Python {m['python']}; 1-minute load average {_load(m.get('load_avg_1min_at_start'))} at the start, "
        f"{_load(m.get('load_avg_1min'))} at the end (other work on the machine slows every arm alike only "
        "if it is steady)",
        f"- wall time: training {w['train']:.0f} s, evaluation {w['eval']:.0f} s, total {w['total']:.0f} s "
        f"({w['total'] / 60:.1f} min)",
        f"- estimated training time before the run (synthetic-batch calibration): {info['estimate_s']:.0f} s",
        "",
        "### Compute per arm",
        "",
        _compute_table(info),
        "",
        "## Results",
        "",
        DEFINITIONS,
        "",
    ]
    for name, rs in info["results"].items():
        parts += [f"### {name}: the diets at x4", "", table(rs, ["bicubic", *DIET_ARMS], labels), ""]
    scale_sets = {n: rs for n, rs in info["results"].items() if sum(a in rs for a in SCALE_ROWS) >= 2}
    if scale_sets:
        parts += [
            "### Scale comparison at x4 (mix85 diet): x4 model, x2 model applied twice, multi-scale x4 head",
            "",
        ]
        for name, rs in scale_sets.items():
            parts += [f"**{name}**", "", table(rs, ["bicubic", *SCALE_ROWS], labels), ""]
    parts += ["### Plots", ""]
    for key, title in (
        ("psnr", "PSNR and gain over bicubic vs test resolution"),
        ("spectral", "hf_error and spurious energy vs test resolution"),
        ("residual", "radially averaged residual spectra (dashed line: LR Nyquist)"),
    ):
        if key in info["plots"]:
            parts += [f"![{title}]({info['plots'][key]})", ""]
    parts += ["## What the numbers show", ""]
    parts += info["statements"]
    parts += [
        "",
        f"PSNR differences below {info['tie_db']} dB are called ties, hf_error differences up to "
        f"{info['tie_hf']} no loss of detail (one seed per arm). The training runs "
        f"(checkpoints, logs) are in `{info['runs_dir']}`, which this report does not need.",
        "",
    ]
    return "\n".join(parts)
