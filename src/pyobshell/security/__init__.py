"""security layer of pyobshell."""
