#!/usr/bin/env python3
"""Checks that every metric the alert rules and the Grafana dashboard use is one that the real
controller or agent exports (docs/monitoring.md).
  metric_names.py --exposition FILE... --rules FILE... --dashboard FILE...
Each --exposition FILE is a /metrics page scraped from a running process (Prometheus text
format). A metric counts as exported when a sample or a "# TYPE" line names it (a family with no
children yet still has its TYPE line), or, for a histogram, its _bucket/_sum/_count series.
`up` is Prometheus' own. Prints what each file uses; exits 1 naming every metric that no process
exports.
"""

import argparse
import json
import re
import sys

import yaml

# PromQL's own words that look like metric names (functions and aggregations are recognised by
# the "(" after them).
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2"}
PROMETHEUS_OWN = {"up"}


def metric_names(expression):
    """The metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = match.group(0)
        if word.lower() in KEYWORDS or text[match.end():].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def exported_names(exposition):
    samples, families = set(), {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            families[name] = kind.strip()
        elif line and not line.startswith("#"):
            samples.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    names = samples | set(families)
    for name, kind in families.items():
        if kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
        elif kind == "summary":
            names |= {name + "_sum", name + "_count"}
    return names


def rule_expressions(path):
    with open(path) as file:
        for document in yaml.safe_load_all(file):
            for group in (document or {}).get("spec", {}).get("groups", []):
                for rule in group.get("rules", []):
                    yield rule.get("alert") or rule.get("record"), rule["expr"]


def dashboard_expressions(path):
    with open(path) as file:
        dashboard = json.load(file)

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel["title"], target["expr"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exposition", nargs="+", required=True)
    parser.add_argument("--rules", nargs="*", default=[])
    parser.add_argument("--dashboard", nargs="*", default=[])
    arguments = parser.parse_args()
    exported = set(PROMETHEUS_OWN)
    for path in arguments.exposition:
        with open(path) as file:
            exported |= exported_names(file.read())
    uses = [(path, where, expression) for path in arguments.rules for where, expression in rule_expressions(path)]
    uses += [(path, where, expression) for path in arguments.dashboard for where, expression in dashboard_expressions(path)]
    if not uses:
        print("no expressions found", file=sys.stderr)
        return 1
    missing = []
    for path, where, expression in uses:
        names = metric_names(expression)
        if not names:
            missing.append(f"{path}: {where}: no metric in {expression!r}")
        for name in sorted(names):
            if name not in exported:
                missing.append(f"{path}: {where}: {name} is exported by neither the controller nor the agent")
        print(f"{path}: {where}: {', '.join(sorted(names))}")
    for line in missing:
        print("FAIL: " + line, file=sys.stderr)
    print(f"{len(uses)} expressions, {len(missing)} problems")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
