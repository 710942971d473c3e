"""Several nodes on one PostgreSQL database: choosing the stores, the node's identity, and
learning of the other nodes' registrations (docs/cluster.md)."""
