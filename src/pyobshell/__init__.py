"""pyobshell: an agent that upgrades OceanBase clusters, compatible with obshell's API."""

__version__ = "0.1.0"
