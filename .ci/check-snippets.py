#!/usr/bin/env python3
"""Checks that the code snippets in the READMEs are the code CI runs.

A README marks a snippet with a comment line right before its fenced code block:

    <!-- snippet: examples/swift/Sources/StoreFile/main.swift#swift-quickstart -->
    ```swift
    ...
    ```

and the source file marks the region with a line containing `snippet:NAME` before it and
`end snippet:NAME` after it. The block must equal the region (common indentation removed).

    .ci/check-snippets.py            check; exit 1 and show a diff when a snippet differs
    .ci/check-snippets.py --update   rewrite the README blocks from the sources
"""

import difflib
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
READMES = ["README.md", "packages-swift/README.md", "packages-kotlin/README.md"]
MARK = re.compile(r"^<!-- snippet: (?P<path>[^#\s]+)#(?P<name>[\w-]+) -->$")


def region(path: str, name: str) -> list[str]:
    lines = (ROOT / path).read_text().splitlines()
    starts = [i for i, l in enumerate(lines) if re.search(rf"(?<!end )snippet:{re.escape(name)}\b", l)]
    ends = [i for i, l in enumerate(lines) if re.search(rf"end snippet:{re.escape(name)}\b", l)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] <= starts[0]:
        raise SystemExit(f"check-snippets: {path} must hold one 'snippet:{name}' … 'end snippet:{name}' region")
    body = "\n".join(lines[starts[0] + 1 : ends[0]])
    return textwrap.dedent(body).strip("\n").splitlines()


def main() -> int:
    update = "--update" in sys.argv[1:]
    failures = 0
    checked = 0
    for readme in READMES:
        path = ROOT / readme
        if not path.exists():
            continue
        lines = path.read_text().splitlines()
        out: list[str] = []
        i = 0
        while i < len(lines):
            m = MARK.match(lines[i])
            out.append(lines[i])
            i += 1
            if not m:
                continue
            if i >= len(lines) or not lines[i].startswith("```"):
                raise SystemExit(f"check-snippets: {readme}:{i}: a fenced block must follow the snippet mark")
            fence = lines[i]
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            if end is None:
                raise SystemExit(f"check-snippets: {readme}:{i + 1}: unterminated code block")
            shown = lines[i + 1 : end]
            want = region(m["path"], m["name"])
            checked += 1
            if shown != want:
                if update:
                    print(f"check-snippets: updated {readme} from {m['path']}#{m['name']}")
                else:
                    failures += 1
                    print(f"check-snippets: {readme} differs from {m['path']}#{m['name']} (run .ci/check-snippets.py --update):")
                    sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(shown, want, readme, m["path"], lineterm=""))
            out += [fence, *want, lines[end]]
            i = end + 1
        if update:
            path.write_text("\n".join(out) + "\n")
    if checked == 0:
        print("check-snippets: no snippet marks found")
        return 1
    if failures == 0:
        print(f"check-snippets: {checked} README snippets equal the code CI runs")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
