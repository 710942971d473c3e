"""Where registered contacts are kept: an interface and its implementations."""
