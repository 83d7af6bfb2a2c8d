"""Re-render the HTML report from a claims.json without re-running anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_claims.report", description=__doc__)
    parser.add_argument("json_path", type=Path, help="the claims.json written by a pytest run")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="HTML file to write (default: index.html beside the JSON)")
    args = parser.parse_args(argv)
    if not args.json_path.is_file():
        parser.error(f"{args.json_path} not found; run pytest with the claims plugin first (it writes reports/claims.json)")
    print(render(args.json_path, args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
