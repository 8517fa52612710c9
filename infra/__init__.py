"""The AWS CDK v2 app that provisions what Amazon Personalize needs in an account.

Modules: :mod:`infra.config` (context parameters), :mod:`infra.key` (KMS key), :mod:`infra.bucket`
(data bucket and its access-log bucket), :mod:`infra.role` (the role Personalize assumes),
:mod:`infra.dataset_group` (optional dataset group), :mod:`infra.stack` (wiring), :mod:`infra.app`
(entry point for ``cdk synth``) and :mod:`infra.outputs` (output names, importable without aws_cdk).

This package imports nothing at import time so that ``import infra.outputs`` stays cheap.
"""
