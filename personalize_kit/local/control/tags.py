"""TagResource, UntagResource and ListTagsForResource, for every kind of resource."""

from __future__ import annotations

import re

from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import check_tags, operation
from personalize_kit.local.exceptions import ResourceNotFoundException
from personalize_kit.local.resources import Resource, Resources

_TAGGABLE = re.compile(r"arn:aws:personalize:[^:]*:\d{12}:[a-z-]+/.+")


def _taggable(resources: Resources, arn: str) -> Resource:
    found = resources.get(arn)
    if found is None or not _TAGGABLE.fullmatch(arn):
        raise ResourceNotFoundException.for_arn(arn)
    return found


@operation
def tag_resource(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as resources:
        found = _taggable(resources, params["resourceArn"])
        tags = {t["tagKey"]: t["tagValue"] for t in found.tags}
        tags.update({t["tagKey"]: t["tagValue"] for t in params["tags"]})
        check_tags(list(tags))
        found.tags = [{"tagKey": k, "tagValue": v} for k, v in tags.items()]
    return {}


@operation
def untag_resource(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as resources:
        found = _taggable(resources, params["resourceArn"])
        found.tags = [t for t in found.tags if t["tagKey"] not in set(params["tagKeys"])]
    return {}


@operation
def list_tags_for_resource(backend: PersonalizeBackend, params: dict) -> dict:
    return {"tags": _taggable(backend.read(), params["resourceArn"]).tags}
