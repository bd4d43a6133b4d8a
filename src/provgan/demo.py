"""``make demo``: prepare the embedded moving digits, train digits-32 with SWGAN, write samples."""

from __future__ import annotations

import sys


def main() -> None:
    print("provgan demo: the training loop has not landed yet (issue: training).")
    sys.exit(0)


if __name__ == "__main__":
    main()
