"""The suite's results as a Markdown report and PNG plots (matplotlib's Agg canvas)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bench.figures import GOALS, stage_times

PEERS = {
    "publish": [("edtrack", "edtrack publish"), ("kcat", "kcat -P")],
    "land": [
        ("edtrack", "edtrack land"),
        ("kcat", "kcat -C to a file"),
        ("spark_streaming", "Spark Structured Streaming"),
    ],
}
COLORS = ["#1f77b4", "#aaaaaa", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# Benchmark, {results['date'][:10]}",
        "",
        f"{m['cores_logical']} cores, {m['memory_gb']} GB; load average "
        f"{m['load_average_at_start'][0]} at start, {m['load_average_at_end'][0]} at end. "
        f"Sizes: {', '.join(f'{n:,}' for n in results['sizes'])} attempts; headline "
        f"figures at {results['headline_size']:,}. Suite took {results['suite_s']:,.0f} s.",
        "",
        "## Goals",
        "",
        "| figure | value | goal | holds |",
        "|---|---|---|---|",
    ]
    for key, _, _ in GOALS:
        goal = results["goals"].get(key)
        if goal is None:
            continue  # not measured in this run
        lines.append(
            f"| `{key}` | {goal['value']:.3g} | {goal['target']} | "
            f"{'yes' if goal['holds'] else '**no**'} |"
        )
    lines += [
        "",
        f"Also: `query_p95_s` {results['query_p95_s']:.3g}, `freshness_p50_s` "
        f"{results['freshness_p50_s']:.3g} (at {results['freshness_size']:,} attempts), "
        f"stack cold start {results['stack_cold_start_s']:.1f} s, warm start "
        f"{_fmt(results['stack_warm_start_s'], 1)} s; full `dbt build` at "
        f"{results.get('dbt_full_smallest_size', 0):,} attempts "
        f"{_fmt(results.get('dbt_full_smallest_s'), 1)} s on a fresh stack, "
        f"{_fmt(results.get('dbt_full_warm_smallest_s'), 1)} s again on the warm server; "
        "warm `make demo` (state wiped) "
        f"{_fmt(results.get('demo_warm_s'), 1)} s; queries under a build: p50 "
        f"{_fmt(results.get('query_under_build_p50_s'))} s, "
        f"{results.get('query_under_build_failed', '-')} failed.",
        "",
        "## Throughput by stage",
        "",
        "| attempts | stage | tool | seconds | msg/s | MB/s | CPU s per 1M | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, run in results["runs"].items():
        rows = [
            (stage, key, label, run[stage][key]) for stage in PEERS for key, label in PEERS[stage]
        ]
        rows.append(("end to end", "seed", "seed batch job (Spark)", run["seed_batch"]))
        for stage, _, label, r in rows:
            lines.append(
                f"| {int(size):,} | {stage} | {label} | {r['seconds']:,.1f} | "
                f"{r['messages_per_s']:,.0f} | {r['mb_per_s']:,.1f} | {r['cpu_s_per_1m']:,.0f} | "
                f"{r['peak_rss_mb']:,.0f} |"
            )
    lines += [
        "",
        "CPU counts the command's process tree and the stack's services over the same "
        "interval (the broker works for kcat too).",
        "",
        "## Ratios and warehouse times by size",
        "",
        "| attempts | publish vs kcat | land vs kcat | land vs Spark streaming | "
        "end to end vs seed (s: edtrack / seed) | dbt full s | dbt +1 % s | incr / full | "
        "query p50 / p95 s | under a build p50 / p95 s | freshness p50 / p95 s | "
        "cold / warm start s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, run in results["runs"].items():
        r, q = run["ratios"], run["queries"]
        fresh = run.get("freshness")
        fresh_text = f"{fresh['p50_s']:.1f} / {fresh['p95_s']:.1f}" if fresh else "-"
        busy = run.get("queries_under_build")
        busy_text = f"{busy['p50_s']:.2f} / {busy['p95_s']:.2f}" if busy else "-"
        start = run["stack_start"]
        lines.append(
            f"| {int(size):,} | {r['publish_vs_kcat']:.3f} | {r['land_vs_kcat']:.3f} | "
            f"{r['land_vs_spark_streaming']:.2f} | {r['end_to_end_vs_seed_batch']:.2f} "
            f"({r['end_to_end_edtrack_s']:,.0f} / {r['end_to_end_seed_batch_s']:,.0f}) | "
            f"{run['dbt_full']['seconds']:,.0f} | {run['dbt_incremental']['seconds']:,.0f} | "
            f"{r['incremental_vs_full']:.2f} | {q['p50_s']:.2f} / {q['p95_s']:.2f} | "
            f"{busy_text} | {fresh_text} | {start['cold_s']:.0f} / {_fmt(start.get('warm_s'), 0)} |"
        )
    if results["scaling_exponents"]:
        lines += [
            "",
            "## How time grows with size",
            "",
            "Exponent k of time ~ size^k between consecutive sizes (1 = linear).",
            "",
            "| sizes | " + " | ".join(next(iter(results["scaling_exponents"].values()))) + " |",
            "|---|" + "---|" * len(next(iter(results["scaling_exponents"].values()))),
        ]
        for key, exps in results["scaling_exponents"].items():
            lines.append(f"| {key} | " + " | ".join(f"{v:.2f}" for v in exps.values()) + " |")
    lines += ["", "## Peak RSS of the stack's services (MB)", ""]
    services = sorted({s for run in results["runs"].values() for s in run["stack_peak_rss_mb"]})
    lines += ["| attempts | " + " | ".join(services) + " |", "|---|" + "---|" * len(services)]
    for size, run in results["runs"].items():
        peaks = run["stack_peak_rss_mb"]
        lines.append(
            f"| {int(size):,} | " + " | ".join(f"{peaks.get(s, 0):,.0f}" for s in services) + " |"
        )
    return "\n".join(lines) + "\n"


def plots(results: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    runs = results["runs"]
    sizes = list(runs)
    title_tail = f"{results['machine']['cores_logical']} cores, {results['date'][:10]}"

    # Throughput by stage and size: grouped bars, one group per (stage, size).
    tools = [(s, k, label) for s in PEERS for k, label in PEERS[s]]
    tools.append(("end to end", None, "seed batch job"))
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=120)
    width = 0.8 / len(sizes)
    for j, size in enumerate(sizes):
        values = [
            (runs[size]["seed_batch"] if k is None else runs[size][s][k])["messages_per_s"]
            for s, k, _ in tools
        ]
        xs = [i + (j - (len(sizes) - 1) / 2) * width for i in range(len(tools))]
        ax.bar(xs, values, width, label=f"{int(size):,} attempts", color=COLORS[j])
    labels = [f"{s}\n{textwrap.fill(label, 16)}" for s, _, label in tools]
    ax.set_xticks(range(len(tools)), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("messages / s (log)")
    ax.set_title(f"Throughput by stage and size, {title_tail}", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    written.append(out_dir / "throughput.png")
    fig.savefig(written[-1])
    plt.close(fig)

    # Time by stage, one line per stage over the sizes (log-log: slope = growth); with
    # a single size, one bar per stage.
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    xs = [int(s) for s in sizes]
    stages = list(stage_times(runs[sizes[0]]))
    if len(sizes) == 1:
        times = stage_times(runs[sizes[0]])
        ax.barh(stages, [times[s] for s in stages], color=COLORS[: len(stages)])
        for i, stage in enumerate(stages):
            ax.text(times[stage], i, f" {times[stage]:,.1f} s", va="center", fontsize=8)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("seconds (log)")
        ax.set_title(f"Time by stage, {xs[0]:,} attempts, {title_tail}", fontsize=10)
        stages = []
    for i, stage in enumerate(stages):
        ys = [stage_times(runs[s])[stage] for s in sizes]
        ax.plot(xs, ys, marker="o", label=stage, color=COLORS[i % len(COLORS)])
    if len(xs) > 1:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("attempts")
        ax.set_ylabel("seconds (log)")
        ax.set_title(f"Time by stage and size, {title_tail}", fontsize=10)
        ax.legend(frameon=False, fontsize=8, ncol=2)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    written.append(out_dir / "time_by_stage.png")
    fig.savefig(written[-1])
    plt.close(fig)

    # Latency distributions: client queries per size, and freshness.
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.2), dpi=120)
    left.boxplot([runs[s]["queries"]["latencies_s"] for s in sizes], showfliers=True)
    left.set_xticks(range(1, len(sizes) + 1), [f"{int(s):,}" for s in sizes])
    left.axhline(0.5, color="#d62728", linestyle="--", linewidth=1, label="goal p50 <= 0.5 s")
    left.set_xlabel("attempts")
    left.set_ylabel("seconds")
    left.set_title("Client query catalogue over Thrift", fontsize=10)
    left.legend(frameon=False, fontsize=8)
    fresh = [(s, runs[s]["freshness"]["latencies_s"]) for s in sizes if "freshness" in runs[s]]
    right.boxplot([v for _, v in fresh])
    right.set_xticks(range(1, len(fresh) + 1), [f"{int(s):,}" for s, _ in fresh])
    right.axhline(60, color="#d62728", linestyle="--", linewidth=1, label="goal p95 <= 60 s")
    right.set_xlabel("attempts")
    right.set_title("Freshness: publish -> visible in a mart", fontsize=10)
    right.legend(frameon=False, fontsize=8)
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    written.append(out_dir / "latency.png")
    fig.savefig(written[-1])
    plt.close(fig)
    return written
