"""The config a studio starts from: the repository's example (`config/hotfolder.yaml`) and
what `hotfolder init DIR` writes (`DIR/config/hotfolder.yaml`) are this text under their own
header, so the two never drift apart (a test holds the example to it).

Its paths are relative to the config's folder: `../var/...` beside `config/`, the layout of
the repository and of a folder `init` made, where commands find `./config/hotfolder.yaml`
without `--config`.
"""
from __future__ import annotations

EXAMPLE_HEADER = """\
# hotfolder example config. Works as it is from the repository root:
#   hotfolder run      (commands find ./config/hotfolder.yaml without --config; on a terminal it
#                       prints one line per file for people, elsewhere JSON: --log-format)
# This file is tracked by git: for a config of your own to edit, `hotfolder init DIR`.
# Relative paths are relative to this file's folder (config/): everything lands in the repository's var/ (../var).
# Reference: README.md, "Config reference". Check edits with: hotfolder check-config FILE
"""

INIT_HEADER = """\
# hotfolder config, written by `hotfolder init`: yours to edit. Run from the folder that
# holds config/ and var/ (commands find ./config/hotfolder.yaml without --config):
#   hotfolder run            (on a terminal: one line per file; Ctrl-C stops it cleanly)
#   hotfolder check-config   (after each edit: every problem, with its line)
# Relative paths are relative to this file's folder, so everything lands in ../var/.
# Reference: README.md, "Config reference".
"""

BODY = """\
state_dir: ../var/state      # the status snapshot `hotfolder status` reads

# The defaults (README's tables), for you to change: a key left out reads as its default.
# workers: auto              # worker processes; auto = one per CPU core
# max_image_pixels: 120000000  # larger images are refused (decompression bombs); covers 102 MP cameras
# accepted_formats: [jpeg, png, webp, tiff, heic, raw]  # raw: DNG, CR2, CR3, NEF, NRW, ARW, RAF, ORF, RW2, PEF, SRW
# drain_timeout: 30          # seconds a stop waits for files in progress
# file_timeout: 120          # a worker busy longer on one file is killed; the file is retried
# max_attempts: 3            # a file that kills its worker this often goes to failed/

# The status page and Prometheus metrics (off without this section). A bare port or
# host:port; IPv6 in brackets ("[::1]:9464"). Requeue from the page needs the token.
# http:
#   listen: "127.0.0.1:9464"
#   token: "${HOTFOLDER_TOKEN}"     # e.g. `openssl rand -hex 16`; without it the page is read-only
#   allowed_hosts: [studio.example] # Host names answered besides localhost and addresses

# Notifications: webhooks (JSON POST, HMAC-signed with `secret`) or any apprise URL.
# notify_interval: 30               # at most one message per endpoint per this many seconds
# notify:
#   - url: https://hooks.example.com/hotfolder
#     secret: "${HOTFOLDER_HOOK_SECRET}"
#     events: [failed, paused]      # also done, duplicate, similar, reload_refused, worker_lost, recovered
#   - url: mailto://user:password@mail.example.com?to=studio@example.com
#     events: [failed]

folders:
  - name: photos
    inbox: ../var/photos/inbox        # drop files here (subfolders are kept in the output)
    output: ../var/photos/output
    archive: ../var/photos/archive    # originals after success (or on_success: delete)
    failed: ../var/photos/failed      # bad files, each with NAME.error.json saying why
    processing: ../var/photos/processing
    quiet_period: 0.1                 # seconds a closed file must stay unchanged before it is taken
                                      # (5 for FTP or NAS clients, which close the file between chunks)
    # stalled_after: 60               # seconds a writer may pause (holding the file open) before it is taken
    # Subfolders the daemon empties are removed a minute later (stalled_after): keep drop folders
    # shared with uploaders (SMB, FTP), or they vanish under them. Globs as `when: subfolder:`.
    # keep_subfolders: ["clients/*"]
    # Left alone in the inbox; archived untouched (videos). A list replaces the default, shown here
    # whole: add to it, keep what you still want (quote a name that starts with * or ~).
    # ignore: [Thumbs.db, ehthumbs.db, desktop.ini, $RECYCLE.BIN, System Volume Information, "Icon\\r", "~$*",
    #          "*.ctg", "*.mrk", "*.dsc", "*.bdm", "*.cpi", "*.mpl", "*.bnp", "*.inp", "*.int", mediapro.xml]
    # pass_through: ["*.mov", "*.mp4", "*.m4v", "*.avi", "*.mts", "*.m2ts", "*.mkv", "*.webm", "*.mpg",
    #                "*.mpeg", "*.wmv", "*.3gp", "*.mxf", "*.crm", "*.braw", "*.r3d", "*.insv", "*.thm",
    #                "*.lrv", "*.lrf", "*.srt", "*.aae", "*.wav"]
    raw: auto                         # camera RAWs: preview (the embedded JPEG), develop, or auto
                                      # (the preview when it is as large as the largest rendition needs)
    # A camera whose clock was off (a second shooter's, an hour ahead): {taken} corrected by it.
    # clock_offsets: {"NIKON Z 6_2": "-1h"}
    # Renditions for some files only (when:), names from the photo ({taken:%Y/%m}/{camera|slug}),
    # captions, XMP sidecars: see the README's "Recipes", and config/studio.yaml in hotfolder's repository.
    renditions:
      - name: web
        operation: fit               # fit | fill (crop to exact size) | scale | none
        size: 1600x1600
        format: jpeg                 # jpeg | png | webp | avif | tiff | jxl | same
        quality: 85
        filename: "{stem}_{rendition}.{ext}"
        metadata: strip-gps          # keep | strip-gps | strip-all | copyright-only (the ICC profile is always kept)
        color_profile: srgb          # srgb (converts P3, Adobe RGB, ...) | keep | a profile: printer.icc
        # sharpen: standard          # none | low | standard | high, or {radius: 0.6, amount: 0.6, threshold: 2}
        # progressive: true          # progressive JPEG
        # max_bytes: 500KB           # never larger: the quality is lowered as needed (not below 30)
        # set_metadata:              # written into EXIF and XMP; {year}: when the photo was taken
        #   artist: Example Studio
        #   copyright: "© {year} Example Studio"
        #   credit: Example Studio
        #   usage_terms: "Web use only; no resale"
        watermark:
          text: "© Example Studio"
          position: bottom-right
          opacity: 0.6
          size: 0.33                 # watermark width as a fraction of the image's shorter side
          # size_of: shorter         # shorter (the same mark on portraits and landscapes) | width | height | longer
          # min_size: 120            # pixels: never narrower, so a panorama's mark stays readable (0: no minimum)
          margin: 0.02               # fraction of the shorter side
      - name: thumb
        operation: fill
        size: 400x400
        format: webp
        quality: 80
        # crop: attention            # center | attention (keeps the subject) | entropy (the most detail)
        # metadata: copyright-only   # only the rights fields and the ICC profile: no camera, GPS or dates
"""


def example() -> str:
    """The repository's config/hotfolder.yaml, exactly."""
    return EXAMPLE_HEADER + "\n" + BODY


def for_init() -> str:
    """What `hotfolder init` writes."""
    return INIT_HEADER + "\n" + BODY
