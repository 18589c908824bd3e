"""hotfolder: watch hot folders and render every image dropped there."""


def __getattr__(name: str) -> str:
    # The version is looked up on first use, not at import: importlib.metadata costs
    # ~74 ms, and `python -m hotfolder` must reach cli's SIGHUP block as early as it can.
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version
    try:
        found = version("hotfolder")
    except PackageNotFoundError:  # running from a source tree without install
        found = "0.0.0+local"
    globals()["__version__"] = found
    return found
