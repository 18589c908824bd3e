"""hotfolder: watch hot folders and render every image dropped there."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hotfolder")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"
