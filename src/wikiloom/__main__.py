"""`python -m wikiloom` runs the command line."""

from wikiloom.cli import main

main()
