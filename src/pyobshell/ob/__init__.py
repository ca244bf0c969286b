"""ob layer of pyobshell: talking to the observer (SQL connections, process, obState)."""
