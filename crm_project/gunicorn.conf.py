"""gunicorn settings used by `make run-prod` (`gunicorn -c crm_project/gunicorn.conf.py ...`).

gunicorn answers every request with a `Server: gunicorn` header; a server banner tells an attacker what to
look up. The product name is enough.
"""

import gunicorn.http.wsgi

gunicorn.http.wsgi.SERVER = "crm"
