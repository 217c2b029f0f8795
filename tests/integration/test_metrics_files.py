"""The ops artefacts in metrics/: rules, their promtool tests, the Grafana dashboard.

CONVENTIONS 2, 7, 8 and 9. The metric names the rules and panels may use come from one
place, the registry ``maild.metrics.Metrics`` builds: a name it does not export fails
here, so a dashboard or an alert can never watch a series that does not exist.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from maild.metrics import Metrics
from tests.support.prometheus import (
    Rule,
    RuleGroup,
    exported_metric_names,
    load_rules,
    metric_names,
    promtool,
    rules_file_text,
)

ROOT = Path(__file__).parents[2]
METRICS = ROOT / "metrics"
DASHBOARD = METRICS / "maild-dashboard.json"
SCRAPE_CONFIG = METRICS / "prometheus.yml"
RULE_FILES = sorted(set(METRICS.glob("*.yml")) - {SCRAPE_CONFIG})
RULE_TESTS = sorted((METRICS / "tests").glob("*.yml"))

# The alerts the issue (#7) asks for; more may be added.
REQUIRED_ALERTS = {
    "MaildMailboxNotSynced": "critical",  # fetch that silently stops must page
    "MaildDown": "critical",  # without it a dead daemon silences the alert above
    "MaildConversationsOverdue": "warning",
    "MaildDeadlineWithinHour": "warning",
    "MaildPlatformAnsweredInTimeLow": "warning",
    "MaildQuarantineGrowing": "warning",
    "MaildOutboundFailing": "warning",
    "MaildOAuthTokenNotRefreshed": "warning",
}
SEVERITIES = {"critical", "warning"}
# CONVENTIONS 3: the label names maild exports; annotations may show only these.
BOUNDED_LABELS = {"mailbox", "folder", "kind", "state", "due_bucket", "clock", "label"}
BOUNDED_LABELS |= {"rule", "outcome", "reason", "version", "paused"}
RECORDED_NAME = re.compile(r"^[a-z_]+:(maild_[a-z0-9_]+):[a-z0-9_]+$")
# Grafana unit ids (packages/grafana-data/src/valueFormats/categories.ts) this dashboard uses.
GRAFANA_UNITS = {"short", "none", "s", "dtdurations", "percentunit", "mpm", "cps"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's built-in variables, as promtool-valid stand-ins.
GRAFANA_BUILTINS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d"}
NEVER = "absent(vector(1))"
ALWAYS = "vector(1)"


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_metric_names(Metrics(CollectorRegistry()).registry)


@pytest.fixture(scope="module")
def rule_groups(tmp_path_factory: pytest.TempPathFactory) -> list[RuleGroup]:
    return load_rules(RULE_FILES, tmp_path_factory.mktemp("prometheus"))


@pytest.fixture(scope="module")
def dashboard() -> Any:
    return json.loads(DASHBOARD.read_text())


def rules(groups: list[RuleGroup], kind: str) -> Iterator[Rule]:
    return (rule for group in groups for rule in group.rules if rule.type == kind)


def panel_expressions(dashboard: Any) -> Iterator[tuple[str, str]]:
    """(where, expression) of every panel query, Grafana's variables made PromQL."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expression = target["expr"]
            for variable, stand_in in GRAFANA_BUILTINS.items():
                expression = expression.replace(variable, stand_in)
            yield f"panel {panel['id']} {target['refId']}", expression


def not_exported(missing: set[str], what: str) -> str:
    return (
        f"{what} use metrics that maild.metrics.Metrics does not export "
        f"(export them there, or stop using them): {', '.join(sorted(missing))}"
    )


# ------------------------------------------------------------------ rules and promtool


def test_rule_files_pass_promtool_lint() -> None:
    assert {path.name for path in RULE_FILES} >= {"alerts.yml", "recording.yml"}
    done = promtool("check", "rules", "--lint=all", "--lint-fatal", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_prometheus_config_scrapes_maild_and_loads_both_rule_files() -> None:
    done = promtool("check", "config", str(SCRAPE_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rule files found" in done.stdout
    assert "job_name: maild" in SCRAPE_CONFIG.read_text()


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS
    done = promtool("test", "rules", *map(str, RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_alerts_have_for_a_severity_and_bounded_annotations(rule_groups: list[RuleGroup]) -> None:
    alerts = {rule.name: rule for rule in rules(rule_groups, "alerting")}
    assert set(alerts) >= set(REQUIRED_ALERTS)
    readme = (ROOT / "README.md").read_text()
    for name, alert in alerts.items():
        assert alert.duration_s > 0, f"{name}: no `for:`"
        assert alert.labels.get("severity") in SEVERITIES, name
        assert set(alert.annotations) >= {"summary", "description"}, name
        shown = set(re.findall(r"\$labels\.(\w+)", " ".join(alert.annotations.values())))
        assert shown <= BOUNDED_LABELS, f"{name} shows unbounded labels {shown - BOUNDED_LABELS}"
        assert f"`{name}`" in readme, f"{name} is not explained in the README"
    for name, severity in REQUIRED_ALERTS.items():
        assert alerts[name].labels["severity"] == severity, name


def test_recording_rules_are_named_level_metric_operations(
    rule_groups: list[RuleGroup], exported: set[str]
) -> None:
    recorded = list(rules(rule_groups, "recording"))
    assert recorded
    bad = [rule.name for rule in recorded if not RECORDED_NAME.match(rule.name)]
    assert not bad, f"not level:metric:operations: {bad}"
    for rule in recorded:
        match = RECORDED_NAME.match(rule.name)
        assert match
        # the metric part names a series, or a counter or histogram without its suffix
        metric = match[1]
        known = {metric, metric + "_total", metric + "_bucket"} & exported
        assert known, not_exported({metric}, f"recording rule {rule.name}")


def test_rules_use_only_exported_metrics(rule_groups: list[RuleGroup], exported: set[str]) -> None:
    recorded = {rule.name for rule in rules(rule_groups, "recording")}
    used = {
        name for group in rule_groups for rule in group.rules for name in metric_names(rule.query)
    }
    assert "maild_folder_last_sync_timestamp_seconds" in used  # the extraction works
    missing = used - exported - recorded
    assert not missing, not_exported(missing, "the rules")


def test_every_alert_has_a_firing_and_a_quiet_case(
    rule_groups: list[RuleGroup], tmp_path: Path
) -> None:
    """Mutation check of metrics/tests: an alert made to always fire must fail a quiet
    case, one made to never fire must fail a firing case."""
    tests = {path: path.read_text() for path in RULE_TESTS}

    def run(mutant: str, alert: str, expression: str) -> str | None:
        """A description of the survivor, or None if promtool's tests caught it."""
        copy = tmp_path / mutant / "metrics"
        shutil.copytree(METRICS, copy)
        changed = [_replaced(group, alert, expression) for group in rule_groups]
        for file in {group.file for group in changed}:
            text = rules_file_text(group for group in changed if group.file == file)
            (copy / file.relative_to(METRICS.resolve())).write_text(text)
        mentioning = [
            str(copy / "tests" / path.name)
            for path, text in tests.items()
            if not alert or f"alertname: {alert}" in text
        ]
        if not mentioning:
            return f"{alert}: no promtool test mentions it"
        done = promtool("test", "rules", *mentioning)
        if not alert:  # the unchanged rules, rewritten: must pass
            assert done.returncode == 0, done.stdout + done.stderr
            return None
        missing = "quiet" if expression == ALWAYS else "firing"
        return None if done.returncode else f"{alert}: no {missing} case ({expression} passes)"

    assert run("original", "", "") is None
    alerts = [rule.name for rule in rules(rule_groups, "alerting")]
    jobs = [(f"{a}-{i}", a, e) for a in alerts for i, e in enumerate((ALWAYS, NEVER))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        survivors = [s for s in pool.map(lambda job: run(*job), jobs) if s]
    assert not survivors, "alerts without a firing or a quiet test case:\n" + "\n".join(survivors)


def _replaced(group: RuleGroup, alert: str, expression: str) -> RuleGroup:
    return RuleGroup(
        group.file,
        group.name,
        group.interval_s,
        tuple(
            Rule(r.type, r.name, expression, r.duration_s, r.labels, r.annotations)
            if r.type == "alerting" and r.name == alert
            else r
            for r in group.rules
        ),
    )


# ------------------------------------------------------------------ the Grafana dashboard


def test_dashboard_is_provisionable(dashboard: Any) -> None:
    text = DASHBOARD.read_text()
    assert "__inputs" not in text and "DS_" not in text  # export inputs break provisioning
    assert dashboard["id"] is None
    uids = [json.loads(path.read_text())["uid"] for path in METRICS.glob("*.json")]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"])
    assert len(uids) == len(set(uids)), uids
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    mailbox = variables["mailbox"]
    assert mailbox["datasource"] == DATASOURCE
    assert mailbox["query"]["query"] == "label_values(maild_messages_landed_total, mailbox)"
    for panel in dashboard["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]
    used = set(re.findall(r"\$\{?(\w+)", text)) - {"__rate_interval", "__interval", "__range"}
    assert used <= set(variables), f"undefined variables: {used - set(variables)}"


def test_every_panel_has_a_title_and_a_unit(dashboard: Any) -> None:
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), ids
    for panel in dashboard["panels"]:
        assert panel.get("title", "").strip(), f"panel {panel['id']} has no title"
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit in GRAFANA_UNITS, f"panel {panel['title']!r}: unit {unit!r}"
        assert panel["targets"], panel["title"]


def test_panel_expressions_are_valid_promql(dashboard: Any, tmp_path: Path) -> None:
    records = [
        {"record": f"dashboard:panel{n}:expr", "expr": expression}
        for n, (_where, expression) in enumerate(panel_expressions(dashboard))
    ]
    assert records
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": records}]}))
    done = promtool("check", "rules", "--lint=all", "--lint-fatal", str(rules_file))
    assert done.returncode == 0, done.stdout + done.stderr


def test_panels_use_only_exported_metrics(dashboard: Any, exported: set[str]) -> None:
    used = {name for _where, expr in panel_expressions(dashboard) for name in metric_names(expr)}
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            used |= set(re.findall(r"label_values\((\w+)", query["query"]))
    assert "maild_messages_landed_total" in used  # the extraction works
    missing = used - exported
    assert not missing, not_exported(missing, "the dashboard's panels")


def test_provisioning_files_ship_beside_the_dashboard() -> None:
    provider = (METRICS / "provisioning" / "dashboards.yaml").read_text()
    assert re.search(r"^apiVersion: 1$", provider, re.MULTILINE)
    assert re.search(r"^\s+type: file$", provider, re.MULTILINE)
    assert re.search(r"^\s+options:\n\s+path: /\S+$", provider, re.MULTILINE)
    datasource = (METRICS / "provisioning" / "datasources.example.yaml").read_text()
    assert re.search(r"^apiVersion: 1$", datasource, re.MULTILINE)
    assert re.search(r"^\s+type: prometheus$", datasource, re.MULTILINE)


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ('sum by (mailbox) (rate(maild_a_total{mailbox=~"$x|b"}[5m])) * 60', {"maild_a_total"}),
        ("x offset 10m and on (mailbox) group_left () y:z:sum > 1e3", {"x", "y:z:sum"}),
        ('histogram_quantile(0.9, sum by (le) (b_bucket{le!="+Inf"}))', {"b_bucket"}),
        ("time() - (ts > 0) or vector(NaN) unless absent(up)", {"ts", "up"}),
    ],
)
def test_metric_names_finds_selected_series(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names


# ------------------------------------------------------------------ a live exposition


def test_a_live_scrape_passes_promtool_check_metrics() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.mailbox_configured("walmart-us", ("INBOX", "Customer Care"), paused=True)
    metrics.mailbox_configured("xhs-shop", ("INBOX",))
    metrics.escalated(["xhs-shop"])
    metrics.escalated_shares({"xhs-shop": 0.25})
    metrics.folder_synced("walmart-us", "INBOX", 1_790_000_000.0)
    metrics.oauth_token_obtained("walmart-us", 1_790_000_000.0)
    metrics.landed("walmart-us", stored=3, duplicates=1)
    metrics.processed(processed=3, quarantined=1)
    metrics.sla_configured("walmart-us", frozenset({"default", "customer-care"}))
    metrics.first_response("walmart-us", "default", 5400.0)
    metrics.answered_in_time("walmart-us", 0.97)
    metrics.ingest_lag("walmart-us", (0.8, 42.0))
    metrics.classified({"ham": 2, "spam": 1})
    exposition = generate_latest(registry)
    for name in (
        b"maild_messages_landed_total",
        b"maild_first_response_business_seconds_bucket",
        b"maild_conversations_escalated_total",
        b"maild_conversations_escalated_ratio",
        b'maild_mailbox_info{mailbox="walmart-us",paused="true"}',
    ):
        assert name in exposition
    done = promtool("check", "metrics", stdin=exposition)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
