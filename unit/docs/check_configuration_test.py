#!/usr/bin/env python3
"""Tests of check_configuration.py on a --help text in boost::program_options' format."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_configuration  # noqa: E402

HELP = """Usage: meshprobe controller [--config FILE] [OPTIONS]

Runs the meshprobe operator.

Options:
  --config FILE                         a YAML file
  --agent-port PORT                     the agent's port, outside Istio's
                                        reserved 15000-15099 (default 15120)
                                        [agentPort]
  --root-namespace NAMESPACE            Istio's root namespace (default
                                        istio-system) [rootNamespace]
  --leader-election-namespace NAMESPACE the Lease's namespace (default
                                        $POD_NAMESPACE, else meshprobe-system)
                                        [leaderElection.namespace]
  -h [ --help ]                         print this help
"""

PAGE = """# Configuration

| key | flag | default | meaning |
|---|---|---|---|
| `agentPort` | `--agent-port PORT` | 15120 | the port |
| `rootNamespace` | `--root-namespace NAMESPACE` | istio-system | the root |
| `leaderElection.namespace` | `--leader-election-namespace NAMESPACE` | $POD_NAMESPACE, else meshprobe-system | x |

| flag | meaning |
|---|---|
| `--config FILE` | the file |
| `--help` | help |

```
| `--in-a-code-block` | not a row |
```
"""


class CheckConfigurationTest(unittest.TestCase):
    def test_help_is_parsed(self):
        options = check_configuration.help_options(HELP)
        self.assertEqual(options, {
            "config": (None, None),
            "agent-port": ("agentPort", "15120"),
            "root-namespace": ("rootNamespace", "istio-system"),
            "leader-election-namespace": ("leaderElection.namespace",
                                          "$POD_NAMESPACE, else meshprobe-system"),
            "help": (None, None),
        })

    def test_agreeing_page_passes(self):
        self.assertEqual(check_configuration.check(HELP, PAGE, {"agentPort"}), [])

    def test_undocumented_flag(self):
        page = PAGE.replace("| `rootNamespace` | `--root-namespace NAMESPACE` | istio-system | the root |\n", "")
        problems = check_configuration.check(HELP, page, set())
        self.assertEqual(len(problems), 1)
        self.assertIn("--root-namespace (--help) is not documented", problems[0])

    def test_flag_that_does_not_exist(self):
        page = PAGE + "| `--dry-run` | pretend |\n"
        problems = check_configuration.check(HELP, page, set())
        self.assertEqual(len(problems), 1)
        self.assertIn("--dry-run is documented", problems[0])

    def test_wrong_key(self):
        page = PAGE.replace("`agentPort` | `--agent-port", "`agent.port` | `--agent-port")
        problems = check_configuration.check(HELP, page, set())
        self.assertEqual(len(problems), 1)
        self.assertIn("ties it to the key agentPort", problems[0])

    def test_wrong_default(self):
        page = PAGE.replace("| 15120 |", "| 15021 |")
        problems = check_configuration.check(HELP, page, set())
        self.assertEqual(len(problems), 1)
        self.assertIn("default is \"15120\"", problems[0])

    def test_install_key_unknown_to_the_binary(self):
        problems = check_configuration.check(HELP, PAGE, {"agentPort", "agentPorts"})
        self.assertEqual(len(problems), 1)
        self.assertIn("agentPorts", problems[0])

    def test_changed_help_format_is_an_error(self):
        self.assertEqual(len(check_configuration.check("no options here", PAGE, set())), 1)


if __name__ == "__main__":
    unittest.main()
