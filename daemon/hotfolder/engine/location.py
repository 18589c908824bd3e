"""What `metadata: strip-gps` removes: where a photo was taken, in every place a file
says it, and nothing else (caption, creator, keywords, rights stay).

  EXIF       the GPS IFD (engine/metadata)
  XMP        the properties below, by namespace URI, whatever prefix the packet gives
             the namespace (`exif:`, `e:`, a default xmlns), as elements or as attributes,
             at any depth (inside LocationShown, a struct, a qualifier)
  IPTC-IIM   the location datasets below (engine/iptc)

Each XMP property removed is listed below with the standard or the maker that
documents it. Not removed: Iptc4xmpCore:CreatorContactInfo (the creator's own address,
part of the rights), exif:SubjectLocation (a point in the picture, in pixels),
dc:coverage (a topic, rarely a place), place names among the keywords.
"""
from __future__ import annotations

EXIF = "http://ns.adobe.com/exif/1.0/"
EXIF_EX = "http://cipa.jp/exif/1.0/"
IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
DYNAMIC_MEDIA = "http://ns.adobe.com/xmp/1.0/DynamicMedia/"
DJI = "http://www.dji.com/drone-dji/1.0/"
PIX4D_CAMERA = "http://pix4d.com/camera/1.0/"

# Namespaces whose every property named GPS… is location: Exif 2.3 for XMP (exif:
# GPSLatitude, GPSLongitude, GPSAltitude, GPSTimeStamp, GPSDestLatitude,
# GPSAreaInformation, …), CIPA's exifEX (GPSHPositioningError), and Pix4D's Camera
# namespace that drone and multispectral cameras write (Camera:GPSXYAccuracy, …).
GPS_PREFIXED = {EXIF, EXIF_EX, PIX4D_CAMERA}

# Whole properties, struct and all:
NAMED = {
    # IPTC Core: the sublocation shown ("Location") and the ISO country code.
    (IPTC_CORE, "Location"), (IPTC_CORE, "CountryCode"),
    # IPTC Core's City, State/Province and Country live in Photoshop's namespace.
    (PHOTOSHOP, "City"), (PHOTOSHOP, "State"), (PHOTOSHOP, "Country"),
    # IPTC Extension: where the photo was taken and the places it shows (each a struct
    # of city, country, world region, GPS coordinates, …).
    (IPTC_EXT, "LocationCreated"), (IPTC_EXT, "LocationShown"),
    # XMP Dynamic Media (Part 2): the name of the place a video or still was shot.
    (DYNAMIC_MEDIA, "shotLocation"),
    # DJI drones (exiftool's XMP-drone-dji table): the aircraft's position (DJI writes
    # GpsLatitude, GpsLongitude and the misspelt GpsLongtitude; exiftool documents the
    # GPS… spellings and Latitude/Longitude), its height above sea level, and where the
    # laser range finder's target is. RelativeAltitude (above the take-off point),
    # gimbal and flight angles, speeds and RTK accuracies say nothing of where: kept.
    (DJI, "Latitude"), (DJI, "Longitude"), (DJI, "AbsoluteAltitude"),
    (DJI, "LRFTargetLon"), (DJI, "LRFTargetLat"), (DJI, "LRFTargetAlt"), (DJI, "LRFTargetAbsAlt"),
}
DJI_GPS_PREFIX = "gps"  # GpsLatitude, GPSLatitude, GpsLongtitude, …: any case

# IPTC-IIM (IPTC's IIM 4.2, record 2) datasets of location: content location code and
# name (2:26, 2:27), city (2:90), sublocation (2:92), province/state (2:95), country
# code and name (2:100, 2:101).
IIM_DATASETS = {(2, 26), (2, 27), (2, 90), (2, 92), (2, 95), (2, 100), (2, 101)}


def is_location(tag: str) -> bool:
    """Whether an ElementTree name (`{uri}local`) is a location property."""
    if not tag.startswith("{"):
        return False
    uri, _, local = tag[1:].partition("}")
    if (uri, local) in NAMED:
        return True
    if uri in GPS_PREFIXED:
        return local.startswith("GPS")
    return uri == DJI and local.lower().startswith(DJI_GPS_PREFIX)
