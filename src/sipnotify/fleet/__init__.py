"""Fleet operations: choosing phones (selection), the verbs that mean the same on every phone
and the vendor catalogue behind them (catalogue), and what each chosen phone would be sent
(plan)."""
