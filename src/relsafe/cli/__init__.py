"""The command line: parse, show (live step table, reports), map errors to exit codes. Only it exits."""
