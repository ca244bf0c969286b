"""upgrade layer of pyobshell."""
