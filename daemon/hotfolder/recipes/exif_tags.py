"""The EXIF tags an `exif:` condition may name, by the names exiftool and Pillow use
(EXIF 2.32), and where each lives: IFD0 or the Exif IFD. Standard library only: the
config checks the names without loading Pillow (tests/unit hold them to Pillow's).
"""
from __future__ import annotations

IFD0 = {
    "ImageDescription": 0x010E, "Make": 0x010F, "Model": 0x0110, "Orientation": 0x0112, "Software": 0x0131,
    "DateTime": 0x0132, "Artist": 0x013B, "HostComputer": 0x013C, "Copyright": 0x8298,
}
EXIF_IFD = {
    "ExposureTime": 0x829A, "FNumber": 0x829D, "ExposureProgram": 0x8822, "ISOSpeedRatings": 0x8827,
    "SensitivityType": 0x8830, "ExifVersion": 0x9000, "DateTimeOriginal": 0x9003, "DateTimeDigitized": 0x9004,
    "OffsetTime": 0x9010, "OffsetTimeOriginal": 0x9011, "OffsetTimeDigitized": 0x9012,
    "ShutterSpeedValue": 0x9201, "ApertureValue": 0x9202, "BrightnessValue": 0x9203,
    "ExposureBiasValue": 0x9204, "MaxApertureValue": 0x9205, "SubjectDistance": 0x9206, "MeteringMode": 0x9207,
    "LightSource": 0x9208, "Flash": 0x9209, "FocalLength": 0x920A, "SubsecTimeOriginal": 0x9291,
    "ColorSpace": 0xA001, "ExifImageWidth": 0xA002, "ExifImageHeight": 0xA003, "SensingMethod": 0xA217,
    "CustomRendered": 0xA401, "ExposureMode": 0xA402, "WhiteBalance": 0xA403, "DigitalZoomRatio": 0xA404,
    "FocalLengthIn35mmFilm": 0xA405, "SceneCaptureType": 0xA406, "GainControl": 0xA407, "Contrast": 0xA408,
    "Saturation": 0xA409, "Sharpness": 0xA40A, "SubjectDistanceRange": 0xA40C, "ImageUniqueID": 0xA420,
    "CameraOwnerName": 0xA430, "BodySerialNumber": 0xA431, "LensSpecification": 0xA432, "LensMake": 0xA433,
    "LensModel": 0xA434, "LensSerialNumber": 0xA435,
}
TAGS = {**IFD0, **EXIF_IFD}
# Other names people write for a tag: EXIF 2.3's, exiftool's.
ALIASES = {"ISO": "ISOSpeedRatings", "PhotographicSensitivity": "ISOSpeedRatings", "Lens": "LensModel",
           "SerialNumber": "BodySerialNumber", "ExposureCompensation": "ExposureBiasValue",
           "DateTimeCreated": "DateTimeOriginal", "CreateDate": "DateTimeDigitized", "ModifyDate": "DateTime",
           "OwnerName": "CameraOwnerName", "FocalLengthIn35mmFormat": "FocalLengthIn35mmFilm",
           "LensInfo": "LensSpecification",
           # exiftool's composite tags, the names its users write for the photo's aperture and shutter
           "Aperture": "FNumber", "ShutterSpeed": "ExposureTime"}


def known() -> str:
    """Every name a condition may use, for a message: the tags, then the other names."""
    return ", ".join(sorted(TAGS, key=str.lower)) + "; also " + ", ".join(
        f"{alias} ({tag})" for alias, tag in sorted(ALIASES.items(), key=lambda a: a[0].lower()))


def canonical(name: str) -> str | None:
    """The tag's name as this table has it (case aside, or an alias), or None."""
    if name in TAGS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    lowered = {n.lower(): n for n in (*TAGS, *ALIASES)}
    found = lowered.get(name.lower())
    return ALIASES.get(found, found) if found else None
