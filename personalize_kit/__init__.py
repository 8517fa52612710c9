"""personalize_kit: Amazon Personalize in production.

- ``personalize_kit.data``: MovieLens and synthetic sources, preparation into Personalize's CSVs and Avro
  schemas, validation against the service's rules.
- ``personalize_kit.local``: an offline mirror of Personalize behind the real boto3 client (needs the
  ``local`` extra).

Importing the package pulls neither TensorFlow nor moto.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
