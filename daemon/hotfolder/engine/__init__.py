"""The imaging engine behind `hotfolder.pipeline`: one module per concern (see there).

Callers use `hotfolder.pipeline`; these modules are its parts.
"""
