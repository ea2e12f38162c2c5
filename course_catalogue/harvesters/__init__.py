"""Harvesters: format readers that turn a provider feed's bytes into raw items, and the HTTP fetch.

The harvest run itself (mapping, validation, the store transaction) is `services.pipeline`."""
