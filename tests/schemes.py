"""Test helper: an EligibilityStore that creates and changes schemes here and now.

The service runs a scheme's evaluation as a job (`catalogue.eligibility_jobs.SchemeJobs`, in the
background for the API); tests that only need a scheme in place run that job inline.
"""

from __future__ import annotations

from course_catalogue.catalogue import eligibility_store
from course_catalogue.catalogue.eligibility import Scheme
from course_catalogue.catalogue.eligibility_jobs import SchemeJobs


class EligibilityStore(eligibility_store.EligibilityStore):
    def create_scheme(self, scheme: Scheme) -> Scheme:
        """Insert a scheme (Conflict if the id is taken) and evaluate every course against it,
        here and now (the API runs the same job in the background:
        `catalogue.eligibility_jobs.SchemeJobs.submit`)."""
        jobs = SchemeJobs(self._store)
        job = jobs.submit(scheme, create=True)
        jobs.run(job.id)
        return self.get_scheme(scheme.id)

    def update_scheme(self, scheme: Scheme) -> Scheme:
        """Replace a scheme's name, description, rules and accredited list (NotFound if absent);
        every course is evaluated again, here and now (see `create_scheme`)."""
        jobs = SchemeJobs(self._store)
        job = jobs.submit(scheme, create=False)
        jobs.run(job.id)
        return self.get_scheme(scheme.id)
