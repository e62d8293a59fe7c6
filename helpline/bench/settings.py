"""Settings for `helpline bench run`: the production settings plus the query-count middleware.

Used as DJANGO_SETTINGS_MODULE=helpline.bench.settings (with HELPLINE_BENCH=1) for the gunicorn
that the benchmark starts; never for a real deployment.
"""

from helpline.settings import *  # noqa: F403
from helpline.settings import MIDDLEWARE

MIDDLEWARE = ["helpline.bench.middleware.QueryCountMiddleware", *MIDDLEWARE]
