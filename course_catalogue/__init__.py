"""Course catalogue: harvest providers' course feeds, normalise them to the EU micro-credential
standard elements, keep them with their provenance, index and serve them.

Subpackages: `catalogue` (the domain: model, validation, store), `mappings` (declarative specs and
normalisers), `harvesters` (feed readers and the harvest pipeline), `search` (engines behind one
query model), `web` (Flask API and pages, CLI, OAI-PMH). See docs/architecture.md.
"""
