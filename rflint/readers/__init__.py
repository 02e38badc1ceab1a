"""Readers turn a file into Graph IR models. They know nothing about rules."""
