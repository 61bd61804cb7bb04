"""The engine: runs the configured steps in order, check -> run -> verify -> record, resumes, stops cleanly."""
