"""The platform's settings with audit recording off, for bench/bench_audit_overhead.py only.

``AUDIT_RECORDING`` has no environment variable, so no deployment can turn recording off;
this module is the only way, and only the benchmark names it in DJANGO_SETTINGS_MODULE.
"""

# A settings module that overrides one value must take all the others as they are: the one
# place where house style's "no import *" gives way.
from config.settings import *  # noqa: F403

AUDIT_RECORDING = False
