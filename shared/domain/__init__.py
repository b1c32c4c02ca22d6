"""The domain: business rules over ports. Imports no AWS SDK, no PynamoDB, no Chalice."""
