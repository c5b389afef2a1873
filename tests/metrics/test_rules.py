"""The shipped Prometheus files: the alert rules and the scrape config are valid, and the rules' own
unit tests (promtool's, on synthetic series) pass. The rules against live metrics: test_prometheus.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testkit.prometheus import promtool

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "prometheus"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (apt-get install prometheus)")


def test_the_alert_rules_are_valid() -> None:
    checked = promtool("check", "rules", "vdvs-alerts.yml", cwd=PACKAGING)
    assert checked.rc == 0, checked.text
    assert "SUCCESS: 8 rules found" in checked.out


def test_the_alert_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", "vdvs-alerts.test.yml", cwd=PACKAGING)
    assert tested.rc == 0, tested.text
    assert "SUCCESS" in tested.text


def test_the_unit_tests_catch_a_rule_that_stops_firing(tmp_path: Path) -> None:
    """The rules' tests are not vacuous: with the 80% threshold raised past 85%, they fail."""
    rules = (PACKAGING / "vdvs-alerts.yml").read_text()
    assert "vdvs_vmgroup_limit_bytes > 0.8" in rules
    (tmp_path / "vdvs-alerts.yml").write_text(
        rules.replace("vdvs_vmgroup_limit_bytes > 0.8", "vdvs_vmgroup_limit_bytes > 0.9")
    )
    shutil.copy(PACKAGING / "vdvs-alerts.test.yml", tmp_path)
    tested = promtool("test", "rules", "vdvs-alerts.test.yml", cwd=tmp_path)
    assert tested.rc != 0
    assert "VdvsSizeQuotaOver80Percent" in tested.text


def test_the_scrape_config_is_valid_and_loads_the_rules() -> None:
    checked = promtool("check", "config", "prometheus.yml", cwd=PACKAGING)
    assert checked.rc == 0, checked.text
    assert "1 rule files found" in checked.text
    text = (PACKAGING / "prometheus.yml").read_text()
    assert "job_name: vdvs-broker" in text and "job_name: vdvs-plugin" in text
