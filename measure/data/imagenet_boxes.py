"""The public ILSVRC-2012 validation bounding boxes, as the official release lays them out.

Format (ILSVRC2012_bbox_val_v3.tgz from image-net.org, the ILSVRC-2012 development kit's annotations): one PASCAL-VOC
XML file per validation image, ``val/ILSVRC2012_val_00000001.xml`` … ``val/ILSVRC2012_val_00050000.xml``::

    <annotation>
      <filename>ILSVRC2012_val_00000001</filename>
      <size><width>500</width><height>375</height><depth>3</depth></size>
      <object><name>n01751748</name><bndbox><xmin>111</xmin><ymin>108</ymin><xmax>441</xmax><ymax>193</ymax></bndbox></object>
      ...
    </annotation>

Coordinates are pixel indices of the image of ``<size>``, 1-based and inclusive as in PASCAL VOC: a box covers
[xmin − 1, xmax] x [ymin − 1, ymax] of the continuous image, clipped to it. Every box of the file counts (an image
may show several objects of its class).

Where: ``--claims-imagenet-boxes DIR``, a folder holding the XML files or a ``val/`` folder of them (the archive
extracted); without it, ``<--claims-imagenet>/bbox/`` (the archive extracted there). Standard library only.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from measure.errors import Missing

BOXES_NEED = ("ILSVRC-2012 validation bounding boxes: extract ILSVRC2012_bbox_val_v3.tgz (image-net.org, the "
              "ILSVRC-2012 development kit's val annotations: val/ILSVRC2012_val_<8 digits>.xml, PASCAL-VOC XML) and "
              "pass --claims-imagenet-boxes DIR (or extract it to <--claims-imagenet>/bbox/)")
DEFAULT_FOLDER = "bbox"  # under --claims-imagenet
_NUMBER = re.compile(r"ILSVRC2012_val_(\d{8})", re.IGNORECASE)


@dataclass(frozen=True)
class ImageBoxes:
    """One validation image's boxes, each (x0, y0, x1, y1) as fractions of its width and height."""

    name: str
    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]
    wnids: tuple[str, ...]


def parse_boxes(path: Path) -> ImageBoxes:
    """One annotation file, its pixel boxes turned into fractions of the image (VOC: 1-based inclusive)."""
    try:
        root = ET.parse(path).getroot()
        width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        boxes, wnids = [], []
        for obj in root.iter("object"):
            box = obj.find("bndbox")
            xmin, ymin, xmax, ymax = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes.append((max(0.0, (xmin - 1) / width), max(0.0, (ymin - 1) / height),
                          min(1.0, xmax / width), min(1.0, ymax / height)))
            wnids.append(obj.findtext("name") or "")
    except (ET.ParseError, TypeError, ValueError, AttributeError) as err:
        raise Missing(f"{path} is not an ILSVRC-2012 bounding-box annotation (PASCAL-VOC XML with <size> and "
                      f"<object><bndbox>): {err}", need=BOXES_NEED) from err
    if width <= 0 or height <= 0:
        raise Missing(f"{path}: image size {width} x {height}", need=BOXES_NEED)
    return ImageBoxes(path.stem, width, height, tuple(boxes), tuple(wnids))


def boxes_folder(boxes: Path | None, imagenet_root: Path | None) -> Path:
    """The folder of the XML files: `boxes` (or its val/), else <imagenet_root>/bbox (or its val/); Missing
    saying what to provide."""
    candidates = [boxes] if boxes is not None else ([imagenet_root / DEFAULT_FOLDER] if imagenet_root else [])
    for folder in candidates:
        for where in (folder / "val", folder):
            if where.is_dir() and any(where.glob("ILSVRC2012_val_*.xml")):
                return where
    tried = ", ".join(str(c) for c in candidates) or "no folder given"
    raise Missing(f"no ILSVRC-2012 val bounding boxes (ILSVRC2012_val_*.xml) found ({tried})", need=BOXES_NEED)


def boxes_for(folder: Path, image_files: list[str]) -> list[ImageBoxes]:
    """The boxes of each validation image (file names or paths ILSVRC2012_val_<8 digits>.JPEG), in order; Missing
    naming the first images without an annotation."""
    out, absent = [], []
    for image in image_files:
        match = _NUMBER.search(Path(image).name)
        path = folder / f"ILSVRC2012_val_{match.group(1)}.xml" if match else None
        if path is None or not path.is_file():
            absent.append(Path(image).name)
            continue
        out.append(parse_boxes(path))
    if absent:
        raise Missing(f"{len(absent)} validation image(s) have no bounding-box file in {folder} "
                      f"({', '.join(absent[:3])}…)", need=BOXES_NEED)
    return out
