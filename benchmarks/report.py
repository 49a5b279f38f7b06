"""Markdown tables from the fastxmpp benchmark results (for the README).

Usage::

    # run the suite and print the tables (extra arguments go to pytest, e.g. -k "not aioxmpp")
    python benchmarks/report.py

    # or from an existing pytest-benchmark JSON file
    python -m pytest benchmarks --benchmark-only --benchmark-json=bench.json
    python benchmarks/report.py bench.json

For each group it prints implementation, throughput (stanzas/s for ``parse``, messages/s for
``serialize``), the time per stanza/message, and the throughput ratio to the baseline: pyexpat
with a start-tag counting Python callback for ``parse``, ``xml.etree.ElementTree`` for
``serialize``. Throughput = per-round count (``extra_info``) / median round time: the median,
not the mean, so that a round slowed by another tenant of a shared machine does not move it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

GROUPS = {
    # group: (count key in extra_info, unit, baseline test name, baseline description)
    "parse": (
        "stanzas_per_round",
        "stanzas",
        "test_pyexpat_callbacks",
        "pyexpat + counting callback",
    ),
    "parse-basic": (
        "stanzas_per_round",
        "stanzas",
        "test_pyexpat_callbacks",
        "pyexpat + counting callback",
    ),
    "serialize": ("messages_per_round", "messages", "test_etree", "ElementTree"),
}

# The connection groups (benchmarks/test_connection.py) have their own columns: the rate (per-round
# count / median round time), this process's CPU per stanza or message (median over the rounds,
# ``time.process_time()``: every thread of the client, none of the server's), and for
# "roundtrip" Prosody's own CPU; the last column compares the client CPU with slixmpp's.
CONNECTION_GROUPS = {
    # group: (count key, unit, slixmpp test name, [(extra_info key, column title, format)],
    #         the target)
    "roundtrip": (
        "messages_per_round",
        "messages",
        "test_roundtrip_slixmpp",
        [
            ("cpu_us_per_message", "client CPU µs per message", "us"),
            ("server_cpu_us_per_message", "server CPU µs per message", "us"),
            ("server_cpu_share", "server CPU (cores)", "share"),
            ("client_cpu_share", "client CPU (cores)", "share"),
        ],
        "at most 5 µs of client CPU per message sent and received (both connections in one "
        "process), and a rate limited by the server (server CPU near 1.00 core)",
    ),
    "receive": (
        "stanzas_per_round",
        "stanzas",
        "test_receive_slixmpp",
        [
            ("cpu_us_per_stanza", "CPU µs per stanza", "us"),
            ("client_cpu_share", "client CPU (cores)", "share"),
        ],
        "at least 500,000 stanzas/s",
    ),
}


def run_suite(extra_args: list[str]) -> dict:
    fd, path = tempfile.mkstemp(suffix=".json", prefix="fastxmpp-bench-")
    os.close(fd)
    try:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            HERE,
            "--benchmark-only",
            "-p",
            "no:cacheprovider",
            "--benchmark-columns=median,mean,ops,rounds",
            "--benchmark-group-by=group",
            f"--benchmark-json={path}",
            *extra_args,
        ]
        print("$", " ".join(cmd), file=sys.stderr)
        rc = subprocess.call(cmd, cwd=os.path.dirname(HERE), stdout=sys.stderr)
        if rc not in (0, 5):
            sys.exit(f"pytest failed (exit status {rc})")
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    finally:
        os.unlink(path)


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def _fmt_time(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 100 else f"{us:.0f}"


def tables(data: dict) -> str:
    out = []
    by_group: dict[str, list[dict]] = {}
    for b in data.get("benchmarks", []):
        by_group.setdefault(b.get("group") or "", []).append(b)
    for group, (count_key, unit, baseline_name, baseline_desc) in GROUPS.items():
        rows = []
        for b in by_group.get(group, []):
            count = b.get("extra_info", {}).get(count_key)
            mean = b["stats"]["median"]  # robust to the odd slow round
            if not count or not mean:
                continue
            label = b.get("extra_info", {}).get("label") or b["name"]
            rows.append((b["name"], label, count / mean, mean / count, b["stats"]["rounds"], count))
        if not rows:
            continue
        rows.sort(key=lambda r: -r[2])
        base = next((r[2] for r in rows if r[0] == baseline_name), None)
        out.append(f"### {group}\n")
        out.append(f"| Implementation | {unit}/s | µs per {unit[:-1]} | vs {baseline_desc} |")
        out.append("|---|---:|---:|---:|")
        for _name, label, rate, per, _rounds, _count in rows:
            ratio = f"{rate / base:.2f}×" if base else "n/a"
            out.append(f"| {label} | {_fmt_rate(rate)} | {_fmt_time(per)} | {ratio} |")
        counts = sorted({r[5] for r in rows})
        rounds = sorted({r[4] for r in rows})
        out.append("")
        nrounds = f"{rounds[0]}" if rounds[0] == rounds[-1] else f"{rounds[0]}-{rounds[-1]}"
        out.append(
            f"{'/'.join(f'{c:,}' for c in counts)} {unit} per round, "
            f"{nrounds} rounds per implementation."
        )
        out.append("")
    out.extend(connection_tables(by_group))
    out.extend(accounts_table(by_group))
    mi = data.get("machine_info", {})
    cpu = mi.get("cpu", {}) or {}
    env = ", ".join(
        x
        for x in (
            f"{mi.get('python_implementation', '')} {mi.get('python_version', '')}".strip(),
            cpu.get("brand_raw") or mi.get("processor") or mi.get("machine") or "",
            mi.get("system", "") and f"{mi.get('system')} {mi.get('release', '')}".strip(),
        )
        if x
    )
    if env:
        out.append(f"Measured on {env} ({data.get('datetime', '')[:10]}).")
    return "\n".join(out).rstrip() + "\n"


def connection_tables(by_group: dict[str, list[dict]]) -> list[str]:
    """Markdown lines for the groups of ``CONNECTION_GROUPS`` present in the results."""
    out = []
    for group, (count_key, unit, slixmpp_name, columns, target) in CONNECTION_GROUPS.items():
        rows = []
        for b in by_group.get(group, []):
            info = b.get("extra_info", {})
            count, median = info.get(count_key), b["stats"]["median"]
            if not count or not median:
                continue
            label = info.get("label") or b["name"]
            rows.append((b["name"], label, count / median, info, b["stats"]["rounds"], count))
        if not rows:
            continue
        rows.sort(key=lambda r: -r[2])
        cpu_key = columns[0][0]
        base = next((r[3].get(cpu_key) for r in rows if r[0] == slixmpp_name), None)
        titles = " | ".join(title for _key, title, _fmt in columns)
        out.append(f"### {group}\n")
        out.append(f"| Implementation | {unit}/s | {titles} | client CPU / slixmpp's |")
        out.append("|---|---:|" + "---:|" * len(columns) + "---:|")
        for _name, label, rate, info, _rounds, _count in rows:
            cells = []
            for key, _title, fmt in columns:
                value = info.get(key)
                if value is None:
                    cells.append("n/a")
                elif fmt == "us":
                    cells.append(_fmt_time(value / 1e6))
                else:
                    cells.append(f"{value:.2f}")
            cpu = info.get(cpu_key)
            ratio = f"{cpu / base:.2f}×" if base and cpu else "n/a"
            out.append(f"| {label} | {_fmt_rate(rate)} | {' | '.join(cells)} | {ratio} |")
        counts = sorted({r[5] for r in rows})
        rounds = sorted({r[4] for r in rows})
        nrounds = f"{rounds[0]}" if rounds[0] == rounds[-1] else f"{rounds[0]}-{rounds[-1]}"
        out.append("")
        out.append(
            f"{'/'.join(f'{c:,}' for c in counts)} {unit} per round, "
            f"{nrounds} rounds per implementation; CPU columns: median over the rounds "
            f"(cores: CPU seconds / wall seconds). Target: {target}."
        )
        out.append("")
    return out


def accounts_table(by_group: dict[str, list[dict]]) -> list[str]:
    """Markdown lines for the many-accounts benchmark (benchmarks/test_accounts.py)."""
    out = []
    for b in by_group.get("accounts", []):
        info = b.get("extra_info", {})
        if not info.get("accounts"):
            continue
        if not out:
            out.append("### accounts\n")
            out.append("| Accounts | login (s) | client CPU (s) | threads | peak RSS (MB) |")
            out.append("|---:|---:|---:|---:|---:|")
        out.append(
            f"| {info['accounts']:,} | {info['login_seconds']:.2f} |"
            f" {info['login_cpu_seconds']:.2f} | {info['threads']} | {info['peak_rss_mb']} |"
        )
    if out:
        out.append("")
        out.append("One Client, 16 logins at a time; every account then sends one message.")
        out.append("")
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0].endswith(".json") and os.path.exists(argv[0]):
        with open(argv[0], encoding="utf-8") as f:
            data = json.load(f)
    else:
        data = run_suite(argv)
    sys.stdout.write(tables(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
