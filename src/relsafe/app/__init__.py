"""One module per command: what it does, independent of how the command line parses and shows it."""
