"""The agent process: it builds every layer, wires them together and serves the HTTP API."""
