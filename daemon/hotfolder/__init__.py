"""hotfolder: watch hot folders and render every image dropped there."""
import os
import sys


def _pin_install() -> None:
    """Pin this process to the install it started from, before any other import of ours.

    systemd/install.sh installs each release into a venv of its own and switches the
    symlink /opt/hotfolder/venv to it. Python keeps paths as given (sys.path, this
    package's __path__, sys.executable), so a daemon started through the link would follow
    it to the next release: a lazy import, or a forkserver started again (it takes the main
    process's sys.path and sys.executable), loaded new modules into the old code
    (ImportError, the file failed, exit 3). Resolved here, every later import, and every
    worker, reads the release this process started with. A path without links (a dev
    install, a plain venv) stays as it is; relative entries ('' for the cwd) too.
    """
    sys.path[:] = [os.path.realpath(p) if os.path.isabs(p) else p for p in sys.path]
    __path__[:] = [os.path.realpath(p) for p in __path__]  # hotfolder.* found through this, not sys.path
    # the venv's bin/ resolved, not its python (a link to the base interpreter): started
    # from there, Python finds the venv's pyvenv.cfg beside it
    if sys.executable:
        bin_dir, name = os.path.split(sys.executable)
        real = os.path.join(os.path.realpath(bin_dir), name)
        if real != sys.executable:
            sys.executable = real
            if "multiprocessing.spawn" in sys.modules:  # it copied sys.executable at its import
                sys.modules["multiprocessing.spawn"].set_executable(real)


_pin_install()


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
