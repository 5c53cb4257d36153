"""Build step of the Dockerfile: every installed distribution that constraints.txt names is at the lock's version.

``pip install -r requirements-image.txt -c constraints.txt`` moves what it resolves to the lock's versions; a
distribution of the base image that our requirements do not pull in is left as the base image has it. This
fails the build naming each one that differs, so the image never runs a version the tests did not run.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(constraints: str, requirements: str) -> int:
    locked = {}
    for line in Path(constraints).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            locked[_key(name)] = version.strip()
    installed = {_key(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    wrong = [f"{name}: image {installed[name]}, lock {version}"
             for name, version in sorted(locked.items()) if name in installed and installed[name] != version]
    for line in Path(requirements).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and _key(line.split("==")[0]) not in installed:
            wrong.append(f"{line}: not installed")
    for problem in wrong:
        print(f"check_pins: {problem}", file=sys.stderr)
    print(f"check_pins: {len(locked)} locked, {len(set(locked) & set(installed))} installed, {len(wrong)} differ")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
