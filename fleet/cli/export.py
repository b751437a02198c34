"""A run as JUnit XML for CI systems: one test case per host and step."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from fleet.runlog.history import RunRecord


def to_junit(record: RunRecord) -> str:
    """Return the JUnit XML document of a run.

    Each host is a class and each of its steps a test case; a failed step is a
    ``<failure>`` with the error, and a host that ended failed without a failed
    step (e.g. unreachable) gets a ``status`` case that fails.
    """
    started = datetime.fromtimestamp(record.started, UTC).isoformat(timespec="seconds")
    suite = ET.Element("testsuite", name=f"fleet {record.command} {record.playbook}",
                       timestamp=started, time=f"{record.duration or 0:.3f}")
    tests = failures = 0
    for host in record.hosts.values():
        for step in host.steps:
            case = ET.SubElement(suite, "testcase", classname=host.name, name=step.step,
                                 time=f"{step.duration:.3f}")
            tests += 1
            if not step.ok:
                failures += 1
                ET.SubElement(case, "failure", message=step.error or "failed").text = step.error
        case = ET.SubElement(suite, "testcase", classname=host.name, name="status", time="0")
        tests += 1
        if host.status in ("failed", "rollback_failed"):
            failures += 1
            ET.SubElement(case, "failure", message=f"{host.status}: {host.error or ''}")
        elif host.status == "skipped":
            ET.SubElement(case, "skipped", message="the run halted before this host")
        ET.SubElement(case, "system-out").text = f"status: {host.status}"
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
