"""The pure imaging core: bytes and typed values in, bytes and ImageInfo out.

No AWS, no HTTP, no environment variables. Pillow is imported lazily by the modules that decode
or encode, so that code paths which only move stored bytes never pay for it.
"""
