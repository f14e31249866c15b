"""ProgImage's shared service package: every Lambda function imports from here.

Layers (imports point down only):
    handlers (functions/*/app.py) -> services -> imaging (pure) and adapters (AWS)
    config and errors are used by every layer.
"""
