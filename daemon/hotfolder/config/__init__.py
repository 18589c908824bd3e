"""The YAML config: parsed, checked, every problem at once with its line; plain data after.
"""
