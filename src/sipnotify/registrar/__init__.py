"""The registrar service: identifying and authenticating REGISTERs, the registered contacts
kept durable (`registry`), and qualifying contacts (`reachability`)."""
