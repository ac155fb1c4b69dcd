"""Local multi-node harness: drives `tenge-node` only through its CLI, files, API and signals."""
