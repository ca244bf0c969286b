"""api layer of pyobshell."""
