"""Tables, computed statements and plots of the study, and ``REPORT.md``.

``results[set][row][res]`` is an entry of :func:`tools.study.testsets.evaluate` (``psnr``, ``ssim``,
``hf_error``, ``lf_error``, ``spurious_energy``, ``n``, ``radial``), ``row`` an arm or
``bicubic``, ``res`` a resolution label (``"1"``, ``"1/2"``, ``"1/4"``). The statements are
computed from those numbers, whichever way they go; a PSNR difference below :data:`TIE_DB` is called
a tie, an ``hf_error`` difference up to :data:`TIE_HF` no loss of detail (conventions of this report:
one seed per arm).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sr.atomic import atomic_write

DIET_ARMS = ("low", "high", "mix85", "mix70", "bandlimited")
SCALE_ROWS = ("mix85", "x2_mix85", "multiscale_mix85")
TIE_DB = 0.05
TIE_HF = 0.01  # hf_error differences at most this are not called a loss of detail
Results = dict[str, dict[str, dict[str, dict[str, Any]]]]
STYLES = {
    "bicubic": ("gray", ":"),
    "low": ("tab:blue", "-"),
    "high": ("tab:red", "-"),
    "mix85": ("tab:green", "-"),
    "mix70": ("tab:olive", "-"),
    "bandlimited": ("tab:purple", "-"),
    "x2_mix85": ("tab:green", "--"),
    "multiscale_mix85": ("tab:green", "-."),
}


def _f(v: float, digits: int) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def table(res_set: dict[str, dict[str, dict[str, Any]]], rows: list[str], labels: list[str]) -> str:
    """Markdown table: one row per ``rows`` entry present, columns resolution x {PSNR, SSIM, hf,
    spurious}; the best PSNR of each resolution in bold."""
    rows = [r for r in rows if r in res_set]
    head = "| arm | " + " | ".join(f"PSNR {r} | SSIM {r} | hf {r} | spur {r}" for r in labels) + " |"
    lines = [head, "|" + "---|" * (1 + 4 * len(labels))]
    best = {r: max(res_set[a][r]["psnr"] for a in rows) for r in labels}
    for a in rows:
        cells = []
        for r in labels:
            e = res_set[a][r]
            p = _f(e["psnr"], 2)
            cells += [f"**{p}**" if e["psnr"] == best[r] else p, _f(e["ssim"], 4)]
            cells += [_f(e["hf_error"], 3), _f(e["spurious_energy"], 3)]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ranked(res_set: dict[str, Any], arms: list[str], r: str) -> list[tuple[str, float]]:
    return sorted(((a, res_set[a][r]["psnr"]) for a in arms), key=lambda t: -t[1])


def _gap_text(d: float) -> str:
    return "a tie" if abs(d) < TIE_DB else f"{d:+.2f} dB"


def statements(results: Results, labels: list[str]) -> list[str]:
    """Plain-language findings computed from ``results`` (module docstring)."""
    out: list[str] = []
    for name, rs in results.items():
        arms = [a for a in DIET_ARMS if a in rs]
        if not arms:
            continue
        n = rs[arms[0]][labels[0]]["n"]
        out += ["", f"**{name}** ({n} image{'' if n == 1 else 's'} per resolution):", ""]
        out += _vs_bicubic(rs, [a for a in rs if a != "bicubic"], labels)
        if len(arms) > 1:
            out += _ranking(rs, arms, labels)
            out += _spurious(rs, arms, labels)
        out += _transfer(rs, labels)
        out += _bandlimited(rs, labels)
    out += _scale_statements(results, labels)
    return out[1:] if out and not out[0] else out


def _vs_bicubic(rs: dict[str, Any], rows: list[str], labels: list[str]) -> list[str]:
    if "bicubic" not in rs or not rows:
        return []
    below = {a: [r for r in labels if rs[a][r]["psnr"] <= rs["bicubic"][r]["psnr"]] for a in rows}
    above = [a for a in rows if not below[a]]
    under = [f"{a} (at {', '.join(rs_)})" for a, rs_ in below.items() if rs_]
    return [
        f"- above bicubic (PSNR) at every resolution: {', '.join(above) or 'none'}"
        + (f"; not above it: {', '.join(under)}" if under else "")
    ]


def _ranking(rs: dict[str, Any], arms: list[str], labels: list[str]) -> list[str]:
    """Best diet arm per resolution, each arm's largest gap to the best, the mixed diets' verdicts."""
    out = []
    worst: dict[str, tuple[float, str]] = {}
    for r in labels:
        ranked = _ranked(rs, arms, r)
        top, top_v = ranked[0]
        line = f"at resolution {r} the best diet arm is {top} ({top_v:.2f} dB"
        tied = [a for a, v in ranked[1:] if top_v - v < TIE_DB]
        if tied:
            line += f"; within {TIE_DB} dB of it: {', '.join(tied)}"
        else:
            line += f", ahead of {ranked[1][0]} by {top_v - ranked[1][1]:.2f} dB"
        if "bicubic" in rs:
            line += f"; {top_v - rs['bicubic'][r]['psnr']:+.2f} dB over bicubic"
        out.append(f"- {line})")
        for a, v in ranked:
            if a not in worst or top_v - v > worst[a][0]:
                worst[a] = (top_v - v, r)
    gaps = sorted(worst.items(), key=lambda t: t[1][0])
    out.append(
        "- largest PSNR gap to the best diet arm over the resolutions: "
        + ", ".join(f"{a} {g:.2f} dB (at {r})" for a, (g, r) in gaps)
    )
    robust = [a for a, (g, _) in gaps if g - gaps[0][1][0] < TIE_DB]
    if len(robust) == 1:
        out.append(f"- the arm with the smallest largest-gap (the most resolution-robust) is {robust[0]}")
    else:
        out.append(f"- the smallest largest-gaps (within {TIE_DB} dB of each other): {', '.join(robust)}")
    for mix in ("mix85", "mix70"):
        if mix in worst:
            g, r = worst[mix]
            if g < TIE_DB:
                out.append(f"- {mix} is the best or within {TIE_DB} dB of it at every resolution")
            else:
                out.append(
                    f"- {mix} is within {g:.2f} dB of the best at every resolution (largest gap at {r})"
                )
    return out


def _transfer(rs: dict[str, Any], labels: list[str]) -> list[str]:
    """Zero-shot transfer: low at native vs high, high at the lowest resolution vs low."""
    if not ("low" in rs and "high" in rs):
        return []
    hi, lo = labels[0], labels[-1]
    d_hi = rs["low"][hi]["psnr"] - rs["high"][hi]["psnr"]
    d_lo = rs["high"][lo]["psnr"] - rs["low"][lo]["psnr"]
    return [
        f"- zero-shot transfer: low (trained on 1/4-resolution photos only) tested at {hi} vs high: "
        f"{_gap_text(d_hi)}; high (native only) tested at {lo} vs low: {_gap_text(d_lo)}"
    ]


def _bandlimited(rs: dict[str, Any], labels: list[str]) -> list[str]:
    if "bandlimited" not in rs or "high" not in rs:
        return []
    worse = [r for r in labels if rs["bandlimited"][r]["hf_error"] > rs["high"][r]["hf_error"] + TIE_HF]
    parts = ", ".join(
        f"{r}: {_f(rs['bandlimited'][r]['hf_error'], 3)} vs {_f(rs['high'][r]['hf_error'], 3)}"
        + (f" (bicubic {_f(rs['bicubic'][r]['hf_error'], 3)})" if "bicubic" in rs else "")
        for r in labels
    )
    verdict = (
        f"loses high-frequency detail (hf_error higher than high's by more than {TIE_HF}) at every resolution"
        if len(worse) == len(labels)
        else f"has an hf_error higher than high's by more than {TIE_HF} at {len(worse)} of {len(labels)} "
        "resolutions"
    )
    dpsnr = ", ".join(
        f"{r} {_gap_text(rs['bandlimited'][r]['psnr'] - rs['high'][r]['psnr'])}" for r in labels
    )
    return [f"- bandlimited {verdict}: hf_error {parts}; PSNR vs high: {dpsnr}"]


def _spurious(rs: dict[str, Any], arms: list[str], labels: list[str]) -> list[str]:
    parts = []
    for r in labels:
        vals = [(a, rs[a][r]["spurious_energy"]) for a in arms if math.isfinite(rs[a][r]["spurious_energy"])]
        if not vals:
            continue
        hi = max(vals, key=lambda t: t[1])
        lo = min(vals, key=lambda t: t[1])
        parts.append(f"{r}: most {hi[0]} ({hi[1]:.3f}), least {lo[0]} ({lo[1]:.3f})")
    return [f"- spurious energy (aliasing/hallucination) by resolution: {'; '.join(parts)}"] if parts else []


def _scale_statements(results: Results, labels: list[str]) -> list[str]:
    out = []
    for name, rs in results.items():
        rows = [a for a in SCALE_ROWS if a in rs]
        if len(rows) < 2:
            continue
        parts = []
        for r in labels:
            ranked = _ranked(rs, rows, r)
            rest = ", ".join(f"{a} {_gap_text(v - ranked[0][1])}" for a, v in ranked[1:])
            parts.append(f"{r}: {ranked[0][0]} best ({ranked[0][1]:.2f} dB; {rest})")
        out.append(f"- {name}: " + "; ".join(parts))
    return ["", "**Scale comparison** at x4 on the mix85 diet (PSNR):", "", *out] if out else []


# ------------------------------------------------------------------------------------------ plots
def _figure(rows: int, cols: int, w: float, h: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w * cols, h * rows), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _save(fig: Any, path: Path) -> Path:
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png"))


def plot_metric_vs_resolution(
    results: Results, resolutions: list[float], labels: list[str], path: Path
) -> Path:
    """Row 1: PSNR; row 2: PSNR gain over bicubic; one column per test set; x = test resolution."""
    fig, axes = _figure(2, len(results), 5.0, 3.6)
    for j, (name, rs) in enumerate(results.items()):
        for row in rs:
            color, ls = STYLES.get(row, ("black", "-"))
            y = [rs[row][r]["psnr"] for r in labels]
            axes[0][j].plot(resolutions, y, ls, color=color, marker="o", label=row)
            if "bicubic" in rs:
                gain = [v - rs["bicubic"][r]["psnr"] for v, r in zip(y, labels, strict=True)]
                axes[1][j].plot(resolutions, gain, ls, color=color, marker="o", label=row)
        axes[0][j].set(title=f"{name}: PSNR (Y) at x4", ylabel="PSNR (dB)")
        axes[1][j].set(title=f"{name}: gain over bicubic", ylabel="dB")
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(resolutions, labels)
            ax.set_xlabel("test resolution (fraction of native)")
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def plot_spectral_vs_resolution(
    results: Results, resolutions: list[float], labels: list[str], path: Path
) -> Path:
    """Rows: test sets; columns: hf_error, spurious_energy; x = test resolution."""
    keys = ("hf_error", "spurious_energy")
    fig, axes = _figure(len(results), 2, 5.0, 3.4)
    for i, (name, rs) in enumerate(results.items()):
        for j, key in enumerate(keys):
            ax = axes[i][j]
            for row in rs:
                color, ls = STYLES.get(row, ("black", "-"))
                ax.plot(
                    resolutions, [rs[row][r][key] for r in labels], ls, color=color, marker="o", label=row
                )
            ax.set(title=f"{name}: {key}", xlabel="test resolution (fraction of native)", ylabel=key)
            ax.set_xscale("log", base=2)
            ax.set_xticks(resolutions, labels)
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def plot_residual_spectra(results: Results, labels: list[str], path: Path, scale: int = 4) -> Path:
    """Rows: test sets; columns: resolutions; the radially averaged residual spectrum
    |F(SR-GT)|^2 / |F(GT)|^2 of every row (log scale), the LR Nyquist marked."""
    fig, axes = _figure(len(results), len(labels), 4.2, 3.2)
    for i, (name, rs) in enumerate(results.items()):
        for j, r in enumerate(labels):
            ax = axes[i][j]
            for row in rs:
                radial = rs[row][r].get("radial")
                if radial:
                    color, ls = STYLES.get(row, ("black", "-"))
                    ax.semilogy(radial["freqs"], radial["residual_ratio"], ls, color=color, label=row)
            ax.axvline(0.5 / scale, color="gray", linestyle="--", linewidth=0.8)
            ax.axhline(1.0, color="gray", linestyle=":", linewidth=0.8)
            ax.set(title=f"{name} at {r}", xlabel="cycles/pixel", ylabel="residual / GT power", xlim=(0, 0.5))
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)
