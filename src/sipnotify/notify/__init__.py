"""PJSIPNotify's rules, independent of AMI: content, targets, the request on the wire,
and sending (behaviour: notify checks, notify presets; deliberate differences 1 and 2)."""
