"""client layer of pyobshell."""
