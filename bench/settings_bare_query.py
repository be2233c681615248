"""The platform's settings with the bare lookup view added, for bench/bench_query.py only.

Everything else (middleware, database, persistent connections, audit) is as in
``config.settings``, so the query endpoint and the bare view run in the same server build.
"""

# A settings module that overrides one value must take all the others as they are: the one
# place where house style's "no import *" gives way.
from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_query"
