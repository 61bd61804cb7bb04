"""`python -m relsafe`."""

from relsafe.cli import main

main()
