"""A client of any package index: read it through the simple API, move files to and from it, find the upload's
credentials, and read who published a file."""
