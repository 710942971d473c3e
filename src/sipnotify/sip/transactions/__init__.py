"""The SIP transaction layer, sans I/O: the four RFC 3261 state machines (`machines`), one
request carried across digest challenges (`exchange`), and the tables of live transactions
with their timers, flow-control window and matching (`layer`)."""
