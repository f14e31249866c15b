"""Files generated from the code's single definitions (``make generate``)."""
