"""Channel adapters of the domain: each channel's signature standard and its payloads, turned
into Touchpoints. Pure functions over bytes, headers and secrets; no I/O."""
