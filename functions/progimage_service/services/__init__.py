"""The use cases: each takes the dependencies and typed inputs and returns typed results."""
