"""gunicorn settings used by `make run-prod` (`gunicorn -c crm_project/gunicorn.conf.py ...`).

gunicorn answers every request with a `Server: gunicorn` header; a server banner tells an attacker what to
look up. The product name is enough.
"""

import gunicorn.http.wsgi

gunicorn.http.wsgi.SERVER = "crm"

# Access and error lines are masked like every Django log line: a query string may carry a phone number or an
# e-mail address (crm_project.logmask).
from gunicorn.glogging import Logger  # noqa: E402


class MaskingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        from crm_project.logmask import PersonalDataLogFilter

        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(PersonalDataLogFilter())


logger_class = MaskingLogger
