"""The member client: what a member institution runs inside its own network.

Needs no Django: the standard library, ``sharing.identifiers`` and its few
dependencies. ``python -m sharing.client --help`` lists the commands.
"""
