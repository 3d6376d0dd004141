#!/usr/bin/env python3
"""Checks docs/configuration.md against `meshprobe controller --help`, so the reference
cannot drift from the binary:

- every flag of --help is documented in a table row of the page, and every flag the page's
  tables document exists;
- a flag that --help ties to a config key ("[key]" at the end of its help) is documented in
  one row with that key in the first column and the flag in the second; the page documents no
  key --help does not know;
- the default --help gives for a flag ("(default X)") is in that row's default column;
- every key of the install's config file (config/manager/controller_config.yaml) is known.

  check_configuration.py MESHPROBE_BINARY REPOSITORY_ROOT
"""
import re
import subprocess
import sys

FLAG = re.compile(r"^\s+(?:-\w \[ )?--([a-z][a-z0-9-]*)")
KEY = re.compile(r"\[([A-Za-z][A-Za-z0-9.]*)\]\s*$")
DEFAULT = re.compile(r"\(default:? ([^()]*(?:\([^()]*\)[^()]*)*)\)")
FLAG_IN_CELL = re.compile(r"`--([a-z][a-z0-9-]*)")
KEY_IN_CELL = re.compile(r"^`([A-Za-z][A-Za-z0-9.]*)`$")


def config_map_keys(path):
    """The keys (dotted paths of leaves) of the `config.yaml` block of the install's ConfigMap.
    A small reader of block mappings, so that the test needs nothing beyond Python."""
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("config.yaml: |"))
    block_indent = None
    stack, keys = [], set()
    for line in lines[start + 1:]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if block_indent is None:
            block_indent = indent
        if indent < block_indent:
            break
        match = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):\s*(.*)$", line)
        if not match:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([name for _, name in stack] + [match.group(2)])
        if match.group(3):
            keys.add(path)
        else:
            stack.append((indent, match.group(2)))
    return keys


def help_options(help_text):
    """{flag: (key or None, default or None)} from the options part of --help."""
    options, current, description = {}, None, []

    def finish():
        if current is None:
            return
        text = " ".join(" ".join(description).split())
        key = KEY.search(text)
        default = DEFAULT.search(text)
        options[current] = (key.group(1) if key else None,
                            default.group(1).strip() if default else None)

    in_options = False
    for line in help_text.splitlines():
        if line.strip() == "Options:":
            in_options = True
            continue
        if not in_options:
            continue
        flag = FLAG.match(line)
        if flag:
            finish()
            current = flag.group(1)
            # The whole block is searched: neither the flag nor its value name holds a
            # "(default" or ends in "[key]".
            description = [line.strip()]
        elif current is not None and line.strip():
            description.append(line.strip())
    finish()
    return options


def table_rows(markdown):
    """Cells of every table row of the page, outside code blocks, header separators skipped."""
    rows, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line.startswith("|"):
            continue
        # Split on pipes that are not escaped (\|).
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        rows.append(cells)
    return rows


def documented(markdown):
    """{flag: (key or None, default cell or None)} from the page's tables: a row whose second
    cell names a flag is a setting (key, flag, default, meaning); a row whose first cell
    names a flag is a command-line-only flag."""
    result = {}
    for cells in table_rows(markdown):
        if len(cells) >= 3 and FLAG_IN_CELL.match(cells[1]):
            key = KEY_IN_CELL.match(cells[0])
            result[FLAG_IN_CELL.match(cells[1]).group(1)] = (key.group(1) if key else cells[0],
                                                              cells[2])
        elif cells and FLAG_IN_CELL.match(cells[0]):
            result[FLAG_IN_CELL.match(cells[0]).group(1)] = (None, None)
    return result


def normalized(text):
    """Without whitespace and backticks: boost::program_options wraps long words anywhere
    ("kube-publi" / "c,kube-node-lease"), so spaces in --help carry no meaning."""
    return "".join(text.replace("`", "").split())


def check(help_text, markdown, install_config_keys):
    problems = []
    options = help_options(help_text)
    if not options:
        return ["--help lists no options: its format changed; update check_configuration.py"]
    pages = documented(markdown)
    for flag, (key, default) in sorted(options.items()):
        if flag not in pages:
            problems.append(f"--{flag} (--help) is not documented in docs/configuration.md")
            continue
        page_key, page_default = pages[flag]
        if key and page_key != key:
            problems.append(f"--{flag}: --help ties it to the key {key}, the page to {page_key}")
        if key is None and page_key is not None:
            problems.append(f"--{flag}: documented with the key {page_key}, which --help does not name")
        if default and page_default is not None and normalized(default) not in normalized(page_default):
            problems.append(f"--{flag}: --help says the default is \"{default}\", "
                            f"the page says \"{page_default}\"")
    for flag in sorted(set(pages) - set(options)):
        problems.append(f"--{flag} is documented in docs/configuration.md but "
                        "`meshprobe controller --help` has no such flag")
    known_keys = {key for key, _ in options.values() if key}
    for key in sorted(install_config_keys - known_keys):
        problems.append(f"config/manager/controller_config.yaml sets {key}, which --help does not know")
    return problems


def main(arguments):
    if len(arguments) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary, root = arguments
    run = subprocess.run([binary, "controller", "--help"], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{binary} controller --help failed ({run.returncode}): {run.stderr}")
        return 1
    with open(f"{root}/docs/configuration.md", encoding="utf-8") as page:
        markdown = page.read()
    install_keys = config_map_keys(f"{root}/config/manager/controller_config.yaml")
    problems = check(run.stdout, markdown, install_keys)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"docs/configuration.md documents exactly the {len(help_options(run.stdout))} flags "
          "of `meshprobe controller --help`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
