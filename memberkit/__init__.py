"""The member client: what a member institution runs inside its own network.

Needs no Django: the standard library, ``memberkit.identifiers`` and its few
dependencies. ``python -m memberkit --help`` lists the commands.
"""
