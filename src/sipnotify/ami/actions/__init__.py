"""AMI actions; each module exports ACTIONS, and the composition root builds the table."""
