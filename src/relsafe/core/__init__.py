"""What every layer uses: the error types and exit codes, secret redaction, the interruption flag, failpoints."""
