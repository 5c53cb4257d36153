"""``python -m tthc.warehouse_migrations revision -m "add metric x"``: draft the warehouse's next revision.

Run from the checkout with ``PYTHONPATH=plugins`` (README, "How to change it"). The draft's
``upgrade()`` holds what ``tthc.warehouse.metadata`` defines that the revisions do not create yet.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tthc.warehouse_migrations",
                                     description="Schema revisions of the metrics warehouse.")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="draft the next revision from tthc.warehouse.metadata")
    revision.add_argument("-m", "--message", required=True, help='what it changes, e.g. "add metric paid_by_card"')
    args = parser.parse_args(argv)

    from tthc.warehouse import metadata
    from tthc.warehouse_migrations import draft_revision

    try:
        path = draft_revision(metadata, args.message)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {path}\nRead it: a NOT NULL column needs a value for the rows already stored "
          "(server_default=sa.text(\"0\"), or make it nullable); then run the warehouse tests and `make lint`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
