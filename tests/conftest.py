"""Root test configuration. Its presence puts tests/ on sys.path, so test modules can import
the shared helpers in `simhelpers`."""
