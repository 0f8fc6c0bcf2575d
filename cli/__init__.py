"""`daosim`, the command line: the top layer, the only one that knows about files, terminals
and exit codes.

It sits above `reports/` (every results command ends by writing a report), which reads
`experiments/` and `sim/`; nothing below imports it. Heavy imports (Mesa, pandas, `sim.*`)
happen inside the command handlers so `daosim --help` and `daosim check` stay fast.
"""
