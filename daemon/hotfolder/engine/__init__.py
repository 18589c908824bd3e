"""The imaging engine: `engine.pipeline.render` is its one door; these modules are its
parts (the pipeline's doc lists them). `engine.formats` is the exception the config
imports too: the table of formats, standard library only.
"""
