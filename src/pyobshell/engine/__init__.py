"""engine layer of pyobshell."""
