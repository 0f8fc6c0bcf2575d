"""`daosim dashboard`: a local web app over the outputs (run, sweep and comparison folders)
and a scenario's what-if form, served by Panel with every script, style and font it needs,
so it works with no network.

The top layer beside the command line: it reads results through the public API (`daosim`)
as a notebook would, and needs the optional extra `daosim[dashboard]`.
"""
