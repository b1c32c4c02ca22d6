"""The domain: business rules over ports. Imports no AWS SDK, no PynamoDB, no Chalice.

One package per capability, each a room a person can own; each package's docstring says what it
owns and which other capabilities it may use. `pyproject.toml` ([tool.importlinter]) holds the
same edges as contracts, and `make lint` fails when an import crosses one:

    kernel  <-  ingest  <-  customers  <-  segments  <-  loyalty
                                 ^             ^
                                 +-- engagement+
    kernel  <-  commerce
    kernel  <-  operations
"""
