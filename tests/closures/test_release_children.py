"""``closures.formats.common.release_children``: a serialised tree emptied a slice at a time."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from closures.formats.common import release_children


@pytest.mark.parametrize(("children", "step"), [(0, 100), (1, 100), (250, 100), (250, 1), (300, 300)])
def test_every_child_is_released_and_the_element_itself_kept(children: int, step: int):
    root = ET.Element("feed", {"lang": "ar"})
    for i in range(children):
        ET.SubElement(ET.SubElement(root, "entry"), "id").text = str(i)

    release_children(root, step=step)

    assert len(root) == 0
    assert root.attrib == {"lang": "ar"}
