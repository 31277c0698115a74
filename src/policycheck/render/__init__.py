"""Renderers: pure functions from an Assessment (or a rule pack) to text."""
