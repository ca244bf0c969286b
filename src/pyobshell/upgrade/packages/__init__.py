"""Upgrade packages: reading an RPM, the cluster's package store, the space they need."""
