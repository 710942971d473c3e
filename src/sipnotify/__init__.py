"""sipnotify: tell SIP phones to do something, through an Asterisk-compatible AMI."""

__version__ = "0.1.0"
