"""Every parser entry point as a fuzz target (`make fuzz`), and Hypothesis over the same."""
