"""The command line: `sipnotify serve`, `check-config`, and the commands that talk to a
running server over AMI (`amiclient`), with their tables (`show`)."""
