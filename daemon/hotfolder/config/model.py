"""The config as plain data: frozen dataclasses (no I/O). The choices a key may take are
config/choices.py's."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hotfolder import redact
from hotfolder.config.choices import (
    DEFAULT_FORMATS,
    Animation,
    Crop,
    DuplicateScope,
    Metadata,
    NameClash,
    NotifyEvent,
    OnDuplicate,
    OnNoRendition,
    OnSuccess,
    Operation,
    Position,
    RawMode,
    Similar,
    SizeOf,
    WatchMode,
)
from hotfolder.config.problems import Problem
from hotfolder.errors import ExitCode, HotfolderError
from hotfolder.recipes.conditions import When

SET_METADATA_KEYS = ("artist", "copyright", "credit", "usage_terms", "title", "description", "headline",
                     "keywords")


# `max_bytes` units: SI (KB = 1000 bytes) and binary (KiB = 1024 bytes), case aside.
BYTE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "kib": 1024, "mib": 1024**2}


MIN_MAX_BYTES = 1000


AUTO_QUALITY = "auto"  # `quality: auto`: per photo, the lowest quality reaching `quality_target`


# What a card dump or a desktop leaves in an inbox besides photos (issue 26). Hidden names
# (`.DS_Store`, `._IMG_0001.JPG`) are always ignored (spool/fsnames.py).
# What a desktop or a camera card holds besides photos, left in the inbox: Windows' files;
# macOS's folder icon and Office's lock files; a card's catalogue (Canon *.CTG), print
# orders (DPOF *.MRK), Nikon's *.DSC, AVCHD's and Sony's index files (an attack round:
# each failed, and notified, though the README says a card's extras never do).
DEFAULT_IGNORE = ("Thumbs.db", "ehthumbs.db", "desktop.ini", "$RECYCLE.BIN", "System Volume Information", "Icon\r",
                  "~$*", "*.ctg", "*.mrk", "*.dsc", "*.bdm", "*.cpi", "*.mpl", "*.bnp", "*.inp", "*.int",
                  "mediapro.xml")
# Videos, and what cameras, phones and drones write beside photos and clips: a clip's
# thumbnail (.THM) and proxy (GoPro's .LRV, DJI's .LRF), a drone's flight log as subtitles
# (.SRT), an iPhone's edit record (.AAE), sound (.WAV). Each of the last four failed at every
# import of a phone or a drone ("not an image in an accepted format": an event photographer's week),
# as did cinema cameras' clips (Canon's Cinema RAW Light .CRM, Blackmagic's .braw, RED's .R3D),
# Insta360's 360° video (.insv) and WebM, MPEG and WMV. Not Insta360's photo (.insp): a JPEG with
# the camera's data after it, which Pillow opens, rendered as a photo.
DEFAULT_PASS_THROUGH = ("*.mov", "*.mp4", "*.m4v", "*.avi", "*.mts", "*.m2ts", "*.mkv", "*.webm", "*.mpg",
                        "*.mpeg", "*.wmv", "*.3gp", "*.mxf", "*.crm", "*.braw", "*.r3d", "*.insv",
                        "*.thm", "*.lrv", "*.lrf", "*.srt", "*.aae", "*.wav")


# A folder's `manifest` template: the original's names only (a manifest is the original's,
# not a rendition's; no photo fields: it lies beside the outputs, in the file's own subfolder).
MANIFEST_FIELDS = frozenset({"stem", "name", "folder", "source_ext"})


DEFAULT_NOTIFY_EVENTS = (NotifyEvent.FAILED, NotifyEvent.PAUSED)


MAX_QUEUE_SIZE = 100_000


HTTP_DEFAULT_HOST = "127.0.0.1"


# Field metadata: set from the rest of the config or by the daemon, not a key of the file.
DERIVED = {"derived": True}


class ConfigError(HotfolderError):
    """The config cannot be used; the message says where and what to change.

    `problems` holds every problem found, each with its YAML line and column;
    `source`, `key` and `reason` are those of the first (for callers that show one)."""

    exit_code = ExitCode.CONFIG_ERROR

    def __init__(self, source: str, key: str, reason: str, problems: tuple[Problem, ...] = ()):
        self.source, self.key, self.reason = source, key, reason
        self.problems = problems or (Problem(source, key, reason),)
        self.line, self.column = self.problems[0].line, self.problems[0].column
        if len(self.problems) == 1:
            message = str(self.problems[0])
        else:  # one line: it also goes into logs and the status
            message = f"{len(self.problems)} problems: " + "; ".join(self.lines())
        super().__init__(message)

    @classmethod
    def of(cls, found: list[Problem]) -> ConfigError:
        first = found[0]
        return cls(first.source, first.key, first.reason, tuple(found))

    def lines(self) -> list[str]:
        """One line per problem: `FILE:LINE:COLUMN: KEY: REASON`."""
        return [str(p) for p in self.problems]


@dataclass(frozen=True)
class Watermark:
    text: str | None = None
    image: Path | None = None
    position: Position = Position.BOTTOM_RIGHT
    opacity: float = 0.5
    margin: float = 0.02  # fraction of the image's shorter side
    size: float = 0.25  # watermark width as a fraction of the side named by size_of
    size_of: SizeOf = SizeOf.SHORTER  # shorter: the same mark on a portrait and a landscape; width: the old sizing
    min_size: int = 120  # px: the mark is never narrower (unless the image is), so it stays readable


@dataclass(frozen=True)
class Sharpen:
    """An unsharp mask, as Photoshop's: at a downscale by 4 or more it is applied as
    given; smaller downscales get less (engine/sharpen.py says how much and why)."""

    radius: float  # sigma of the Gaussian, in output pixels
    amount: float  # 1.0 is Photoshop's 100 %
    threshold: int  # 0-255: smaller differences from the blurred image are left alone
    preset: str = field(default="custom", metadata=DERIVED)  # the preset it is, or custom


SHARPEN_PRESETS = {
    "low": Sharpen(radius=0.5, amount=0.35, threshold=2, preset="low"),
    "standard": Sharpen(radius=0.6, amount=0.6, threshold=2, preset="standard"),
    "high": Sharpen(radius=0.7, amount=1.0, threshold=2, preset="high"),
}


@dataclass(frozen=True)
class SetMetadata:
    """Fields written into every output, each a template (recipes/templates.py)."""

    artist: str | None = None
    copyright: str | None = None
    credit: str | None = None
    usage_terms: str | None = None
    title: str | None = None  # XMP dc:title
    description: str | None = None  # XMP dc:description, EXIF ImageDescription
    headline: str | None = None  # XMP photoshop:Headline
    keywords: tuple[str, ...] = ()  # added to the photo's own (XMP dc:subject)


@dataclass(frozen=True)
class Rendition:
    name: str
    operation: Operation = Operation.FIT
    width: int | None = None
    height: int | None = None
    long: int | None = None  # `size: {long: 2048}`: the longer side (fit)
    short: int | None = None  # `size: {short: 1080}`: the shorter side (fit)
    megapixels: float | None = None  # `size: {megapixels: 2}`: the pixel count, in millions (fit)
    scale: float | None = None
    format: str = "same"
    quality: int | str = 85  # 1-100, or AUTO_QUALITY
    quality_target: float = 80.0  # SSIMULACRA2 score `quality: auto` reaches
    watermark: Watermark | None = None
    filename: str = "{stem}_{rendition}.{ext}"
    orient: bool = True
    metadata: Metadata = Metadata.STRIP_GPS
    upscale: bool = False
    background: tuple[int, int, int] = (255, 255, 255)
    sharpen: Sharpen | None = None  # an unsharp mask after resampling; None: not sharpened
    crop: Crop = Crop.CENTER  # fill only: center, or libvips' smartcrop (attention, entropy)
    set_metadata: SetMetadata | None = None  # copyright and credit written into EXIF and XMP
    max_bytes: int | None = None  # the output never exceeds this (quality lowered as needed)
    progressive: bool = False  # JPEG only
    compression: str = "deflate"  # TIFF only: deflate, lzw, none (engine/encoders/tiff)
    color_profile: str = "srgb"  # srgb, keep, or the absolute path of an RGB ICC profile
    when: When | None = None  # the conditions a file must meet for this rendition (recipes/conditions.py)


@dataclass(frozen=True)
class Folder:
    name: str
    inbox: Path
    output: Path
    failed: Path
    processing: Path
    archive: Path | None
    renditions: tuple[Rendition, ...]
    on_success: OnSuccess = OnSuccess.ARCHIVE
    watch: WatchMode = WatchMode.AUTO
    quiet_period: float = 0.1
    stalled_after: float = 60.0  # a writer paused this long (file open, or cut short and given back) is done
    rescan_interval: float = 30.0
    output_mode: int = 0o644
    output_group: str | None = None
    animation: Animation = Animation.FIRST_FRAME
    # Two originals whose outputs would have the same name (a.jpg and a.png): `suffix`
    # gives the later one distinct names, `replace` lets it replace, `fail` fails it.
    on_name_clash: NameClash = NameClash.SUFFIX
    raw: RawMode = RawMode.AUTO  # camera RAWs: preview, develop, or auto (the preview when it is large enough)
    manifest: str | None = None  # a file name template: a JSON manifest per original beside its outputs; None: none
    ignore: tuple[str, ...] = DEFAULT_IGNORE  # name globs left in the inbox (a folder so named: all in it)
    pass_through: tuple[str, ...] = DEFAULT_PASS_THROUGH  # name globs moved to archive/ untouched
    keep_subfolders: tuple[str, ...] = ()  # subfolder globs never removed once emptied (arrival/tidy.py)
    on_no_rendition: OnNoRendition = OnNoRendition.ARCHIVE  # a file no rendition's `when:` takes
    sidecar_wait: float = 5.0  # seconds an XMP sidecar and its image wait for each other
    # (camera glob, seconds, as written): a camera whose clock was off; `{taken}` is corrected by it
    clock_offsets: tuple[tuple[str, int, str], ...] = ()
    # The same photo known by its content (issue 23; config/sections/duplicates.py).
    on_duplicate: OnDuplicate = OnDuplicate.SKIP
    duplicate_scope: DuplicateScope = DuplicateScope.AUTO
    duplicates: Path | None = None  # where skipped duplicates go; set beside failed/ when not given
    similar: Similar = Similar.FLAG
    similar_distance: int = 6  # bits of the 64-bit pHash; measured (likeness.py)
    duplicate_window: float = 365 * 86400.0  # seconds: older entries of the index are forgotten
    # Set from the rest of the config (not keys of the folder):
    temp_token: str = field(default="0" * 12, metadata=DERIVED)  # marks our temp files (see spool.temp_prefix)
    # who owns which output name (see spool/owners.py); None: not tracked
    names_dir: Path | None = field(default=None, metadata=DERIVED)
    # the daemon's state (state/db.py: `{seq}`); None: no sequence here (cluster mode counts in Redis)
    state_dir: Path | None = field(default=None, metadata=DERIVED)
    # where the index of originals lives (state_dir: state/originals.py); None: no index (batch mode)
    index_dir: Path | None = field(default=None, metadata=DERIVED)
    # set by the service: this folder's place in the shared per-folder counts (workers/counters.py)
    slot: int = field(default=0, metadata=DERIVED)
    # the config it was read from: what a command printed for the admin names (config/locate.option)
    config_file: Path | None = field(default=None, metadata=DERIVED)

    def all_dirs(self) -> list[Path]:
        dirs = [self.inbox, self.output, self.failed, self.processing]
        if self.archive is not None:
            dirs.append(self.archive)
        return dirs


@dataclass(frozen=True)
class Cluster:
    """`cluster:` — render on several machines through Celery + Redis (off by default).
    See docs/cluster.md; hotfolder.cluster holds the code that uses it."""

    enabled: bool = False
    broker_url: str = field(default="", metadata=redact.URL)  # may hold a password
    queue: str = "hotfolder"
    cluster_id: str = ""
    shared_root: Path | None = None
    path_map: tuple[tuple[Path, Path], ...] = ()  # (head path, this node's path), longest first
    task_time_limit: float = 300.0
    task_soft_time_limit: float = 240.0
    visibility_timeout: float = 900.0
    lease_ttl: float = 60.0
    max_attempts: int = 3
    reconcile_interval: float = 60.0
    stale_after: float = 1200.0
    max_in_flight: int = 64
    concurrency: int = 0  # 0: one process per core of the worker's machine
    max_tasks_per_child: int = 200
    max_memory_per_child_mb: int = 1024  # 0: no limit

    __repr__ = redact.dataclass_repr


@dataclass(frozen=True)
class Http:
    """`http:` — the listener for /metrics and the status page (off when absent)."""

    host: str = HTTP_DEFAULT_HOST  # without brackets, also for IPv6
    port: int = 9464  # 0: any free port (logged as http_listening)
    token: str = field(default="", metadata=redact.VALUE)  # empty: the page is read-only
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides localhost and addresses (web/hosts.py)
    max_connections: int = 64  # connections held at once (web/connections.py)
    request_timeout: float = 10.0  # seconds for a whole request to arrive, and for its answer to be taken

    __repr__ = redact.dataclass_repr

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class NotifyTarget:
    """One item of `notify:`: where to send which events."""

    url: str = field(metadata=redact.URL)  # user:password@, a token in the path or the host
    events: tuple[NotifyEvent, ...] = DEFAULT_NOTIFY_EVENTS
    secret: str = field(default="", metadata=redact.VALUE)  # http(s) only: HMAC-SHA256 signature of the body

    __repr__ = redact.dataclass_repr

    @property
    def is_webhook(self) -> bool:
        return self.url.lower().startswith(("http://", "https://"))

    @property
    def shown(self) -> str:
        """The URL with its secret parts as *** (see redact.url): for logs and messages."""
        return redact.url(self.url)


@dataclass(frozen=True)
class Config:
    source: Path = field(metadata=DERIVED)  # the file it was read from
    folders: tuple[Folder, ...]
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_image_pixels: int = 120_000_000  # 102 MP medium-format sensors (GFX100, X2D 100C) with a margin
    accepted_formats: tuple[str, ...] = DEFAULT_FORMATS
    state_dir: Path = Path("var/state")
    queue_size: int = 0  # 0: twice the worker count
    drain_timeout: float = 30.0
    file_timeout: float = 120.0
    max_attempts: int = 3
    reload_on_change: bool = False
    cluster: Cluster = field(default_factory=Cluster)
    http: Http | None = None
    notify: tuple[NotifyTarget, ...] = ()
    notify_interval: float = 30.0

    @property
    def queue_bound(self) -> int:
        return self.queue_size or 2 * self.workers

    @property
    def status_file(self) -> Path:
        return self.state_dir / "status.json"
