"""Entry point of the CDK app (``cdk.json``: ``python -m infra.app``), with cdk-nag's AwsSolutions checks.

Run from the repository root with the project's virtualenv active::

    npx aws-cdk@2 synth                                  # template in cdk.out/PersonalizeKit.template.json
    npx aws-cdk@2 synth -c removalPolicy=destroy -c createDatasetGroup=true

The context keys are documented in :mod:`infra.config`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import App, Aspects
from cdk_nag import AwsSolutionsChecks

from infra.config import InfraConfig
from infra.stack import PersonalizeKitStack
from personalize_kit.exceptions import InfraConfigError

#: The cdk.json next to the infra package: its context (feature flags and parameter defaults) is the
#: baseline of every app built here, so that tests synthesize exactly what ``cdk synth`` does.
CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, object]:
    """The ``context`` object of ``cdk.json`` (empty when the file is absent).

    Example:
        >>> cdk_json_context()["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"]
        True
    """
    if not path.is_file():
        return {}
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    return dict(context)


def build_app(
    context: Mapping[str, object] | None = None, *, outdir: str | None = None
) -> tuple[App, PersonalizeKitStack]:
    """Build the app and its stack with cdk-nag's AwsSolutions pack applied.

    ``context`` overrides the ``cdk.json`` context; context given by the CDK CLI (``-c key=value``)
    overrides both.

    Example:
        >>> app, stack = build_app({"removalPolicy": "destroy"})
        >>> app.synth().get_stack_by_name(stack.stack_name).template["Outputs"].keys()
    """
    app = App(context={**cdk_json_context(), **dict(context or {})}, outdir=outdir)
    config = InfraConfig.from_context(app.node.try_get_context)
    stack = PersonalizeKitStack(app, config.stack_name, config=config)
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> int:
    """Synthesize the app into ``cdk.out`` (or where the CDK CLI asks); return 2 on a bad context value."""
    try:
        app, _ = build_app()
    except InfraConfigError as error:
        print(f"personalize-kit infra: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
