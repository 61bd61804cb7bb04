"""`python -m relsafe`."""

from relsafe.cli.main import main

main()
