"""Make matplotlib's SVG small enough to inline many figures in one report page.

matplotlib writes every element in a group of its own with an id, and repeats the same inline
``style`` on every tick, label and marker. Here, in the SVG tree (never by rewriting text):

* ids nothing refers to (``url(#…)``, ``href="#…"``) are dropped; the others are renamed to a prefix from the
  figure's content and a number, references too, so figures sharing a marker never repeat an id in one page;
* groups left without attributes are unwrapped (their children take their place);
* a rotation by 0 degrees (every horizontal label) is dropped;
* each distinct ``style`` (with the ``clip-path`` attribute folded in) becomes one CSS class in a ``<style>`` of the figure. Inline SVG styles apply
  to the whole page, so class names carry a prefix derived from the figure's content: two figures
  never share a class unless they share its rule too.

The picture is unchanged: the same elements, attributes and styles, in the same order.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
_REF = re.compile(r"url\(#([^)]+)\)")
_NO_ROTATION = re.compile(r"rotate\(-?0(\.0*)? [-\d.]+ [-\d.]+\)")  # matplotlib's label at angle 0: a no-op
_HREFS = ("href", f"{{{XLINK}}}href")


def compact(svg: str) -> str:
    """The same picture as ``svg`` (one ``<svg>`` element, as matplotlib writes it), in fewer bytes."""
    ET.register_namespace("", SVG)
    ET.register_namespace("xlink", XLINK)
    root = ET.fromstring(svg)
    referenced = _referenced_ids(root)
    for element in root.iter():
        if "id" in element.attrib and element.attrib["id"] not in referenced:
            del element.attrib["id"]
        if _NO_ROTATION.fullmatch(element.attrib.get("transform", "")):
            del element.attrib["transform"]
    digest = hashlib.sha256(svg.encode()).hexdigest()
    _prefix_ids(root, referenced, "i" + digest[:5] + "-")
    _unwrap_bare_groups(root)
    _styles_to_classes(root, prefix="c" + digest[:5])
    text = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return re.sub(r">\s+<", ">\n<", text).replace(" />", "/>")


def _prefix_ids(root: ET.Element, ids: set[str], prefix: str) -> None:
    """The ids still needed (markers, clip paths) renamed to the figure's digest and a number, references too:
    matplotlib names a marker by its path, so every figure with the same marker would repeat its id in one page."""
    names = {old: f"{prefix}{i}" for i, old in enumerate(sorted(ids))}
    if not names:
        return
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            if name == "id" and value in names:
                element.attrib[name] = names[value]
            elif name in _HREFS and value.startswith("#") and value[1:] in names:
                element.attrib[name] = "#" + names[value[1:]]
            elif "url(#" in value:
                element.attrib[name] = _REF.sub(lambda m: f"url(#{names[m[1]]})" if m[1] in names else m[0], value)


def _referenced_ids(root: ET.Element) -> set[str]:
    found = set()
    for element in root.iter():
        for name, value in element.attrib.items():
            found.update(_REF.findall(value))
            if name in _HREFS and value.startswith("#"):
                found.add(value[1:])
    return found


def _unwrap_bare_groups(parent: ET.Element) -> None:
    children = list(parent)
    for child in children:
        _unwrap_bare_groups(child)
    rebuilt: list[ET.Element] = []
    for child in children:
        if child.tag == f"{{{SVG}}}g" and not child.attrib and not (child.text or "").strip():
            rebuilt.extend(list(child))
        else:
            rebuilt.append(child)
    if rebuilt != children:
        parent[:] = rebuilt


def _styles_to_classes(root: ET.Element, prefix: str) -> None:
    for element in root.iter():  # clip-path is a presentation attribute: it can live in the class too
        if "clip-path" in element.attrib:
            clip = element.attrib.pop("clip-path")
            element.attrib["style"] = f"{element.attrib.get('style', '').strip().rstrip(';')}; clip-path: {clip}"
    styled = [element for element in root.iter() if "style" in element.attrib
              and element.tag != f"{{{SVG}}}style"]
    names: dict[str, str] = {}
    for element in styled:
        style = element.attrib.pop("style").strip().strip(";").strip()
        name = names.setdefault(style, f"{prefix}{len(names)}")
        existing = element.attrib.get("class")
        element.attrib["class"] = f"{existing} {name}" if existing else name
    if not names:
        return
    rules = "\n".join(f".{name}{{{style}}}" for style, name in names.items())
    defs = root.find(f"{{{SVG}}}defs")
    if defs is None:
        defs = ET.Element(f"{{{SVG}}}defs")
        root.insert(0, defs)
    sheet = ET.SubElement(defs, f"{{{SVG}}}style", {"type": "text/css"})
    sheet.text = rules
