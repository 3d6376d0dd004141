#!/usr/bin/env python3
"""Tests of check_links.py on scratch repositories: each kind of broken link is found, and
good links are not reported."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_links  # noqa: E402


class GithubAnchorTest(unittest.TestCase):
    def test_anchors_as_github_makes_them(self):
        cases = {
            "Quick start": "quick-start",
            "Using `meshprobe inject`": "using-meshprobe-inject",
            "How it probes (the kubelet's rules, `pkg/probe/http`, `pkg/probe/grpc`)":
                "how-it-probes-the-kubelets-rules-pkgprobehttp-pkgprobegrpc",
            "Decision: rewrite this Deployment or not": "decision-rewrite-this-deployment-or-not",
            "Rewrite (pure engine, no I/O)": "rewrite-pure-engine-no-io",
            "Symptom → cause → fix": "symptom--cause--fix",
            "The [agent](agent.md) and **its** limits": "the-agent-and-its-limits",
            "snake_case_name": "snake_case_name",
        }
        for heading, anchor in cases.items():
            self.assertEqual(check_links.github_anchor(heading), anchor, heading)

    def test_repeated_headings_are_numbered(self):
        anchors = check_links.anchors_of("# Tests\n## Tests\n### Tests\n")
        self.assertEqual(anchors, {"tests", "tests-1", "tests-2"})

    def test_headings_inside_code_blocks_are_not_anchors(self):
        anchors = check_links.anchors_of("# Real\n```sh\n# not a heading\n```\n")
        self.assertEqual(anchors, {"real"})


class CheckTest(unittest.TestCase):
    def repository(self, files):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as file:
                file.write(text)
        return root

    def problems(self, readme, **pages):
        files = {"README.md": readme, "docs/page.md": "# Page\n\n## A section\n", "src/x.cc": ""}
        files.update({f"docs/{name}.md": text for name, text in pages.items()})
        return check_links.check(self.repository(files))[0]

    def test_good_links_pass(self):
        self.assertEqual(self.problems(
            "# Top\n[page](docs/page.md) [section](docs/page.md#a-section) [here](#top)\n"
            "[code](src/x.cc) [dir](docs/) ![img](docs/page.md)\n[ref]: docs/page.md\n"
            "`[not a link](nowhere.md)`\n```\n[not a link](nowhere.md) https://example.com\n```\n",
            other="[back](../README.md#top) [sibling](page.md#a-section)\n"), [])

    def test_missing_file(self):
        problems = self.problems("[gone](docs/gone.md)\n")
        self.assertEqual(len(problems), 1)
        self.assertIn("no such file docs/gone.md", problems[0])

    def test_missing_anchor(self):
        problems = self.problems("[x](docs/page.md#no-such-section)\n[y](#nowhere)\n")
        self.assertEqual(len(problems), 2)
        self.assertIn("no heading with the anchor #no-such-section", problems[0])
        self.assertIn("README.md:2", problems[1])

    def test_outside_the_repository(self):
        problems = self.problems(
            "[a](https://istio.io/) [b](../shared/DESIGN.md) [c](/etc/passwd) [d](//host/x)\n"
            "<https://example.com> and a bare https://example.com/page\n"
            "[e]: http://example.com\n[f](mailto:someone@example.com)\n")
        self.assertEqual(len(problems), 8, "\n".join(problems))

    def test_reference_definitions_are_checked(self):
        problems = self.problems("[x][r]\n\n[r]: docs/missing.md\n")
        self.assertEqual(len(problems), 1)

    def test_links_inside_docs_resolve_from_their_page(self):
        problems = self.problems("", other="[wrong](docs/page.md)\n")
        self.assertEqual(len(problems), 1)
        self.assertIn("docs/other.md:1", problems[0])

    def test_pending_pages(self):
        root = self.repository({
            "README.md": "[soon](docs/soon.md)\n",
            "unit/docs/pending_pages.txt": "# comment\ndocs/soon.md\n",
        })
        problems, notes = check_links.check(root)
        self.assertEqual(problems, [])
        self.assertEqual(len(notes), 1)
        os.makedirs(os.path.join(root, "docs"), exist_ok=True)
        with open(os.path.join(root, "docs", "soon.md"), "w", encoding="utf-8") as page:
            page.write("# Soon\n")
        problems, notes = check_links.check(root)
        self.assertEqual(problems, [])
        self.assertTrue(any("exists now" in note for note in notes), notes)


if __name__ == "__main__":
    unittest.main()
