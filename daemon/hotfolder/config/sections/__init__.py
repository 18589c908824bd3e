"""The config's sections, each a module declaring its keys (`KEYS`, keys.py) and
reading one mapping into its model:

    daemon.py      the top level: workers, state_dir, timeouts, …, and the sections below
    folder.py      each item of `folders:`
    rendition.py   each item of a folder's `renditions:`: name, filename, and the keys of
                   each step (steps/: geometry, encode, orient, metadata, colour, rights,
                   sharpen, smartcrop, watermark)
    http.py        `http:`
    notify.py      each item of `notify:`
    cluster.py     `cluster:`
"""
