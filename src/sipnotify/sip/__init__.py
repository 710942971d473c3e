"""The sans-IO SIP core: values, parsing, transactions, digest auth. No sockets, no clock."""
