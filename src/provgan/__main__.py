"""``python -m provgan ...`` (also what ``torchrun -m provgan train ...`` runs)."""

from provgan.cli import main

main()
