"""Prometheus's own tools as test peers: promtool, and a private server that loads rules.

The project has no YAML parser, and would need none: a Prometheus server started on the
rule files reports every rule as it understood it (``/api/v1/rules``, JSON), which is a
better source than a second parser. Its expressions come back normalised, so the
metric names in them can be found without a PromQL parser of our own.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

__all__ = [
    "Rule",
    "RuleGroup",
    "exported_metric_names",
    "load_rules",
    "metric_names",
    "promtool",
    "rules_file_text",
]

HOST = "127.0.0.1"
PROMTOOL_TIMEOUT_S = 60.0
SERVER_READY_S = 20.0

# Sample names of each metric type, after the family name prometheus_client reports.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}

# PromQL words that are not metric names: aggregations, functions, keywords (Prometheus 2.42).
_PROMQL_WORDS_TEXT = """
    sum min max avg group stddev stdvar count count_values bottomk topk quantile
    and or unless bool offset by without on ignoring group_left group_right atan2
    start end inf nan
    abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month
    day_of_week day_of_year days_in_month delta deriv exp floor histogram_count
    histogram_sum histogram_fraction histogram_quantile holt_winters hour idelta increase
    irate label_join label_replace ln log2 log10 minute month predict_linear rate resets
    round scalar sgn sort sort_desc sqrt time timestamp vector year avg_over_time
    min_over_time max_over_time sum_over_time count_over_time quantile_over_time
    stddev_over_time stdvar_over_time last_over_time present_over_time acos acosh asin
    asinh atan atanh cos cosh sin sinh tan tanh deg rad pi
"""
_PROMQL_WORDS = frozenset(_PROMQL_WORDS_TEXT.split())
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'" r"|`[^`]*`")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# Not after a digit or a dot: the "m" of "10m" and the "e3" of "1e3" are not names.
_IDENTIFIERS = re.compile(r"(?<![\w.])[A-Za-z_:][\w:]*")


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; a machine without it fails here (scripts/install-system-deps)."""
    path = shutil.which("promtool")
    assert path, "promtool is not installed: run scripts/install-system-deps (Debian prometheus)"
    done = subprocess.run(
        [path, *args],
        input=stdin,
        capture_output=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def exported_metric_names(registry: CollectorRegistry) -> set[str]:
    """Every series name a scrape of ``registry`` can show, whether or not it has a child yet."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def metric_names(expression: str) -> set[str]:
    """The metric (and recorded series) names a PromQL expression selects."""
    text = _STRINGS.sub('""', expression)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {word for word in _IDENTIFIERS.findall(text) if word.lower() not in _PROMQL_WORDS}


@dataclass(frozen=True)
class Rule:
    type: str  # "alerting" or "recording"
    name: str
    query: str
    duration_s: float
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class RuleGroup:
    file: Path
    name: str
    interval_s: float
    rules: tuple[Rule, ...]


def load_rules(files: Sequence[Path], workdir: Path) -> list[RuleGroup]:
    """The rule groups a real Prometheus server loads from ``files``."""
    config = workdir / "prometheus.yml"  # JSON is YAML
    config.write_text(json.dumps({"rule_files": [str(f.resolve()) for f in files]}))
    server_path = shutil.which("prometheus")
    assert server_path, "prometheus is not installed: run scripts/install-system-deps"
    port = _free_port()
    log = workdir / "prometheus.log"
    command = [
        server_path,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address={HOST}:{port}",
        "--log.level=warn",
    ]
    with log.open("wb") as sink, subprocess.Popen(command, stdout=sink, stderr=sink) as server:
        try:
            _wait_ready(server, port, log)
            status, body = _get(port, "/api/v1/rules")
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert status == 200, body
    answer = json.loads(body)
    return [_group(group) for group in answer["data"]["groups"]]


def rules_file_text(groups: Iterable[RuleGroup]) -> str:
    """A rules file (JSON, which Prometheus reads as YAML) equivalent to ``groups``."""
    return json.dumps({"groups": [_group_document(group) for group in groups]}, indent=1)


def _group_document(group: RuleGroup) -> dict[str, object]:
    rules: list[dict[str, object]] = []
    for rule in group.rules:
        if rule.type == "alerting":
            rules.append(
                {
                    "alert": rule.name,
                    "expr": rule.query,
                    "for": _duration(rule.duration_s),
                    "labels": rule.labels,
                    "annotations": rule.annotations,
                }
            )
        else:
            rules.append({"record": rule.name, "expr": rule.query, "labels": rule.labels})
    return {"name": group.name, "interval": _duration(group.interval_s), "rules": rules}


def _duration(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _group(document: Any) -> RuleGroup:  # one group of /api/v1/rules, decoded JSON
    return RuleGroup(
        file=Path(document["file"]),
        name=str(document["name"]),
        interval_s=float(document["interval"]),
        rules=tuple(
            Rule(
                type=str(rule["type"]),
                name=str(rule["name"]),
                query=str(rule["query"]),
                duration_s=float(rule.get("duration", 0)),
                labels=dict(rule.get("labels") or {}),
                annotations=dict(rule.get("annotations") or {}),
            )
            for rule in document["rules"]
        ),
    )


def _wait_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Bounded polling of /-/ready; a server that exits ends the wait with its log."""
    deadline = time.monotonic() + SERVER_READY_S
    while True:
        if server.poll() is not None:
            raise AssertionError(f"prometheus exited ({server.returncode}):\n{log.read_text()}")
        try:
            if _get(port, "/-/ready")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise AssertionError(f"prometheus not ready in {SERVER_READY_S}s:\n{log.read_text()}")
        time.sleep(0.05)


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
