"""The operations' pixels, by family: geometry, colour, filters, compositing.

Each function implements one entry of the registry (registry.py declares its name, arguments
and documentation). table.py binds them all and refuses to load if a pixel operation of the
registry has no implementation. Only a render imports it: parsing a pipeline needs the registry
alone.
"""
