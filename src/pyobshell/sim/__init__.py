"""sim layer of pyobshell."""
