"""Several worker processes on one host sharing the SIP, AMI and HTTP ports (`workers = N`)."""
