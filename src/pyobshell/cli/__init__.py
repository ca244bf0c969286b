"""cli layer of pyobshell."""
