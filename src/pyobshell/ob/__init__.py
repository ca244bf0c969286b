"""ob layer of pyobshell."""
