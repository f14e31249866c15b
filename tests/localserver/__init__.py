"""Tests of the local server (localserver/)."""
