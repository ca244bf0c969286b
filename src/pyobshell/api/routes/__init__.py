"""The HTTP routes, one module per group of obshell's API."""
