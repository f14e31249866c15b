"""The pure imaging core: bytes and typed values in, bytes and ImageInfo out.

No AWS, no HTTP, no environment variables. Two layers: the language (grammar.py, registry.py,
pipeline.py, formats.py, limits.py, copies.py), which imports no Pillow and is all a handler or
a cache hit loads; and the pixels (decode, plan, render, operations/, encode), imported only by code
that reads or writes pixels.
"""
