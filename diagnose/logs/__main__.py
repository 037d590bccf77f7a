"""`python -m diagnose.logs FILE...`: the scan as contract JSON (a fallback for bench/ without the CLI)."""

from __future__ import annotations

import json
import sys

from ..errors import DiagnoseError
from ..render.logs import to_json
from .scan import scan


def main(argv: list[str]) -> int:
    try:
        print(json.dumps(to_json(scan(argv or ["-"]))))
    except DiagnoseError as e:
        print(f"diagnose logs: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
