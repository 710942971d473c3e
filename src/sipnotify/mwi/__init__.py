"""Message-waiting: mailboxes, the message-summary body, unsolicited MWI and subscriptions."""
