"""The control plane (service id ``personalize``), one module per resource family.

- ``data``: schemas, dataset groups, datasets, dataset import and export jobs;
- ``solutions``: solutions, solution versions (training), metrics, recipes;
- ``algorithms``: the algorithms and feature transformations the recipes run;
- ``deletion``: data deletion jobs (users' data removed from a dataset group);
- ``metrics``: metric attributions (what the impact of recommendations is measured by);
- ``recommenders``: recommenders of domain dataset groups (their use cases: ``local/recommenders.py``);
- ``serving``: campaigns, event trackers, filters, batch inference jobs;
- ``segments``: batch segment jobs (user segments of USER_SEGMENTATION solution versions);
- ``tags``: tagging of every kind.

Each operation takes the :class:`~personalize_kit.local.backend.PersonalizeBackend` and the request's
parameters (checked by botocore and :func:`~personalize_kit.local._shapes.check_input`) and returns the
response dict; creates share one declarative path (:mod:`personalize_kit.local.control._base`).
"""

from __future__ import annotations

from personalize_kit.local.control import (
    algorithms,
    data,
    deletion,
    metrics,
    recommenders,
    segments,
    serving,
    solutions,
    tags,
)
from personalize_kit.local.control._base import OPERATIONS

OPERATIONS.update(serving.OPERATIONS_DELETE)

__all__ = [
    "OPERATIONS",
    "algorithms",
    "data",
    "deletion",
    "metrics",
    "recommenders",
    "segments",
    "serving",
    "solutions",
    "tags",
]
