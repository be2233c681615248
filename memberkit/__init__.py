"""The member kit: what a member institution runs inside its own network.

The identifier standard and member tokens, the vocabulary shared with the platform, the one
Ed25519 verifier, and the client's commands. Needs no Django and nothing of the platform: the
standard library and four packages (memberkit/pyproject.toml). It installs alone
(``pip install ./memberkit``); ``riskshare-member --help`` (or ``python -m memberkit --help``)
lists the commands.
"""
