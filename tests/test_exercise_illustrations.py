"""Exercise illustrations and a clinic's overrides (pathways/exercises.py, pathways/images.py):
our drawings, the `illustration` field and its default, the SVG safety check every picture
passes, and the overrides file named by $CAREPATH_EXERCISE_OVERRIDES."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from pathways.exercises import (
    DEFAULT_DIR,
    ENV_OVERRIDES,
    ExerciseError,
    ExerciseLibrary,
    default_library,
    describe_programme,
)
from pathways.images import MAX_IMAGE_BYTES, SVG_NS, UnsafeImageError, check_image, check_svg

from .exercises_support import make_toml, png_bytes, svg, write, write_overrides

SHAPES = {"path", "circle", "ellipse", "line", "polyline", "polygon", "rect"}


@pytest.fixture(scope="module")
def lib() -> ExerciseLibrary:
    return ExerciseLibrary.load(DEFAULT_DIR)


def demo_dir(tmp_path: Path, extra: str = "", picture: tuple[str, bytes] | None = None
             ) -> Path:
    """An exercise directory with one exercise, "demo", and maybe a picture file in its
    illustrations folder."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    write(tmp_path, make_toml(extra=extra))
    if picture is not None:
        (tmp_path / "illustrations").mkdir(exist_ok=True)
        (tmp_path / "illustrations" / picture[0]).write_bytes(picture[1])
    return tmp_path


# --- our drawings --------------------------------------------------------------------------

def test_every_shipped_exercise_has_an_illustration_with_alt_text(lib: ExerciseLibrary) -> None:
    for ex_id in lib.ids():
        picture = lib.get(ex_id).illustration
        assert picture is not None, ex_id
        assert picture.path == DEFAULT_DIR / "illustrations" / f"{ex_id}.svg"
        assert picture.media_type == "image/svg+xml"
        assert picture.alt == f"{lib.get(ex_id).title}: {lib.get(ex_id).levels[0].name}"


@pytest.mark.parametrize("path", sorted((DEFAULT_DIR / "illustrations").glob("*")),
                         ids=lambda p: p.name)
def test_each_drawing_is_a_small_titled_line_drawing(path: Path) -> None:
    """Ours are line art: every shape is drawn by its stroke, and none is filled."""
    content = path.read_bytes()
    assert path.suffix == ".svg" and len(content) < 8 * 1024
    check_svg(content, path.name)
    root = etree.fromstring(content)
    assert root.get("viewBox") == "0 0 240 160" and root.get("role") == "img"
    title = root.find(f"{{{SVG_NS}}}title")
    assert title is not None and len((title.text or "").split()) >= 4
    shapes = [el for el in root.iter(etree.Element) if etree.QName(el).localname in SHAPES]
    assert shapes
    for shape in shapes:
        fills = [el.get("fill") for el in (shape, *shape.iterancestors()) if el.get("fill")]
        assert fills and fills[0] == "none", etree.tostring(shape)
        strokes = [el.get("stroke") for el in (shape, *shape.iterancestors())]
        assert any(strokes), etree.tostring(shape)
    assert path.stem in {p.stem for p in DEFAULT_DIR.glob("*.toml")}


def test_describe_programme_says_whether_there_is_a_picture(lib: ExerciseLibrary,
                                                            tmp_path: Path) -> None:
    rows = describe_programme([{"exercise": "walking", "level": 2}], lib)
    assert rows[0]["illustration"] is True
    assert rows[0]["illustration_alt"] == "Walking: Short easy walks"
    bare = ExerciseLibrary.load(demo_dir(tmp_path))
    rows = describe_programme([{"exercise": "demo", "level": 1}], bare)
    assert (rows[0]["illustration"], rows[0]["illustration_alt"]) == (False, "")


# --- the field in an exercise file ---------------------------------------------------------

def test_without_the_field_illustrations_id_svg_is_used_when_it_exists(tmp_path: Path) -> None:
    assert ExerciseLibrary.load(demo_dir(tmp_path)).get("demo").illustration is None
    picture = ExerciseLibrary.load(demo_dir(tmp_path, picture=("demo.svg", svg()))).get(
        "demo").illustration
    assert picture is not None
    assert (picture.path, picture.media_type) == (tmp_path / "illustrations" / "demo.svg",
                                                  "image/svg+xml")
    assert picture.alt == "Demo: Level 1"


@pytest.mark.parametrize(("name", "media_type"), [
    ("demo-start.png", "image/png"), ("Demo_2.JPG", "image/jpeg"), ("demo.jpeg", "image/jpeg"),
    ("demo.webp", "image/webp")])
def test_the_field_names_a_picture_in_the_illustrations_folder(
        tmp_path: Path, name: str, media_type: str) -> None:
    content = {"image/png": png_bytes(), "image/jpeg": b"\xff\xd8\xff\xe0" + bytes(20),
               "image/webp": b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8)}[media_type]
    extra = f'illustration = "illustrations/{name}"\nillustration_alt = "A person standing."'
    picture = ExerciseLibrary.load(demo_dir(tmp_path, extra, (name, content))).get(
        "demo").illustration
    assert picture is not None
    assert (picture.path.name, picture.media_type, picture.alt) == (
        name, media_type, "A person standing.")


@pytest.mark.parametrize(("value", "match"), [
    ('"../demo.svg"', r"illustration: must be a file name in the illustrations/ folder"),
    ('"/etc/demo.svg"', "must be a file name in the illustrations/ folder"),
    ('"illustrations/../demo.svg"', "must be a file name in the illustrations/ folder"),
    ('"illustrations/sub/demo.svg"', "must be a file name in the illustrations/ folder"),
    ('"illustrations/.demo.svg"', "must be a file name in the illustrations/ folder"),
    ('"illustrations\\\\demo.svg"', "must be a file name in the illustrations/ folder"),
    ('"demo.svg"', "must be a file name in the illustrations/ folder"),
    ('""', "must be a file name in the illustrations/ folder"),
    ("3", "must be a file name in the illustrations/ folder"),
    ('"illustrations/demo.gif"', r"illustrations/demo\.gif: must be a \.svg, \.png"),
    ('"illustrations/missing.svg"', r"illustrations/missing\.svg: file not found"),
])
def test_a_bad_illustration_field_is_refused_with_a_clear_error(
        tmp_path: Path, value: str, match: str) -> None:
    demo_dir(tmp_path, f"illustration = {value}", ("demo.svg", svg()))
    with pytest.raises(ExerciseError, match=match) as info:
        ExerciseLibrary.load(tmp_path)
    assert str(tmp_path / "demo.toml") in str(info.value)


@pytest.mark.parametrize(("picture", "match"), [
    (("demo.svg", svg("<script>alert(1)</script>")), r"illustration: .*<script> elements"),
    (("demo.png", b"<html>not a picture</html>"), r"content is not a image/png image"),
    (("demo.jpg", png_bytes()), r"content is not a image/jpeg image"),
    (("demo.svg", b"<svg"), r"not well-formed XML"),
])
def test_an_unsafe_or_mislabelled_picture_is_refused(
        tmp_path: Path, picture: tuple[str, bytes], match: str) -> None:
    demo_dir(tmp_path, f'illustration = "illustrations/{picture[0]}"', picture)
    with pytest.raises(ExerciseError, match=match):
        ExerciseLibrary.load(tmp_path)


def test_a_symbolic_link_out_of_the_illustrations_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.svg"
    outside.write_bytes(svg())
    (demo_dir(tmp_path / "content", picture=("real.svg", svg())) / "illustrations" /
     "demo.svg").symlink_to(outside)
    with pytest.raises(ExerciseError, match="leads outside the illustrations/ folder"):
        ExerciseLibrary.load(tmp_path / "content")


@pytest.mark.parametrize(("extra", "picture", "match"), [
    ('illustration_alt = "A person."', None, "illustration_alt: given without an illustration"),
    ('illustration_alt = " "', ("demo.svg", svg()), "illustration_alt: must be a non-empty"),
    ("illustration_alt = 7", ("demo.svg", svg()), "illustration_alt: must be a non-empty"),
])
def test_alt_text_needs_a_picture_and_words(tmp_path: Path, extra: str,
                                            picture: tuple[str, bytes] | None,
                                            match: str) -> None:
    with pytest.raises(ExerciseError, match=match):
        ExerciseLibrary.load(demo_dir(tmp_path, extra, picture))


# --- the SVG safety check -------------------------------------------------------------------

XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'


@pytest.mark.parametrize("body", [
    '<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>'
    '<rect width="5" height="5" fill="url(#g)" style="stroke: url( \'#g\' )"/>',
    '<defs><path id="leg" d="M0 0L5 5"/></defs><use href="#leg"/><use xlink:href="#leg"/>',
    '<style>path { stroke: #123; fill: none; }</style><!-- a comment --><title>A leg</title>',
    '<path d="M0 0H5"><animate attributeName="stroke-width" from="1" to="3" dur="1s"/></path>',
], ids=["gradient", "use", "style", "animate"])
def test_a_plain_drawing_passes_the_svg_check(body: str) -> None:
    check_svg(svg(body), "ok.svg")
    check_svg(b'<?xml version="1.0" encoding="UTF-8"?>\n' + svg(body), "declared.svg")


@pytest.mark.parametrize(("content", "match"), [
    (svg("<script>alert(1)</script>"), "<script> elements are not allowed"),
    (svg('<SCRIPT xmlns="http://www.w3.org/2000/svg"/>'), "<SCRIPT> elements"),
    (svg('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>'),
     "<foreignObject> elements"),
    (svg('<div xmlns="http://www.w3.org/1999/xhtml"/>'), "<div> elements"),
    (svg('<iframe src="https://example.org"/>'), "<iframe> elements"),
    (svg('<handler type="application/ecmascript">alert(1)</handler>'), "<handler> elements"),
    (svg('<path d="M0 0" onload="alert(1)"/>'), "<path onload>: event attributes"),
    (svg('<rect width="1" height="1" ONCLICK="alert(1)"/>'), "event attributes"),
    (svg('<a href="javascript:alert(1)"><path d="M0 0"/></a>'), "<a href>: links may only"),
    (svg('<image href="https://example.org/x.png"/>'), "<image href>: links may only"),
    (svg('<use xlink:href="other.svg#leg"/>'), "<use href>: links may only"),
    (svg('<image xlink:href="data:image/svg+xml;base64,PHN2Zz4="/>'), "links may only"),
    (svg('<a href="#x"><set attributeName="href" to="javascript:alert(1)"/></a>'),
     "<set> must not change a link"),
    (svg('<rect width="1" height="1" fill="url(https://example.org/p.svg#g)"/>'),
     "<rect fill>: url\\(\\) may only point inside the drawing"),
    (svg('<rect width="1" height="1" style="fill: url(\'//example.org/g\')"/>'),
     "url\\(\\) may only point inside"),
    (svg("<style>@import 'https://example.org/a.css';</style>"), "<style>: '@import'"),
    (svg("<style><![CDATA[rect { fill: url(https://example.org/a) }]]></style>"),
     "<style>: url\\(\\) may only"),
    (svg('<rect width="1" height="1" style="fill: \\75 rl(https://example.org/g)"/>'),
     "'\\\\\\\\' is not allowed"),
    (svg("<style>rect { background: image-set('https://example.org/a.png' 1x) }</style>"),
     "'image-set\\(' is not allowed"),
    (b'<?xml-stylesheet href="https://example.org/a.css"?>' + svg(), "processing instructions"),
    (svg('<?php echo 1; ?>'), "processing instructions"),
    (b'<!DOCTYPE svg [<!ENTITY x "y">]>' + svg("<title>&x;</title>"), "DOCTYPE"),
    (b'<svg viewBox="0 0 1 1"/>', "root element must be <svg> in the SVG namespace"),
    (b'<html xmlns="http://www.w3.org/1999/xhtml"/>', "root element must be <svg>"),
    (b"not xml at all", "not well-formed XML"),
    (svg("<title>" + "x" * MAX_IMAGE_BYTES + "</title>"), "the limit is"),
], ids=lambda v: v[:40] if isinstance(v, str) else None)
def test_the_svg_check_refuses_anything_but_a_drawing(content: bytes, match: str) -> None:
    with pytest.raises(UnsafeImageError, match=match) as info:
        check_svg(content, "clinic.svg")
    assert str(info.value).startswith("clinic.svg: ")


def test_the_check_reads_utf16_too() -> None:
    hostile = b'<?xml version="1.0" encoding="UTF-16"?><?xml-stylesheet href="x.css"?>'
    with pytest.raises(UnsafeImageError, match="processing instructions"):
        check_svg((hostile.decode() + svg().decode()).encode("utf-16"), "wide.svg")


def test_check_image_says_what_is_wrong_with_a_file(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes() + bytes(MAX_IMAGE_BYTES))
    with pytest.raises(UnsafeImageError, match=r"big\.png: file is 1,000,0\d\d bytes"):
        check_image(big)
    folder = tmp_path / "folder.svg"
    folder.mkdir()
    with pytest.raises(UnsafeImageError, match=r"folder\.svg: file not found"):
        check_image(folder)
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes())
    assert check_image(good) == "image/png"


# --- a clinic's overrides file -------------------------------------------------------------

def test_a_clinic_gives_its_own_video_link_and_pictures(tmp_path: Path) -> None:
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "walk.png").write_bytes(png_bytes())
    (tmp_path / "bridge.svg").write_bytes(svg())
    overrides = write_overrides(tmp_path, f"""
[walking]
video_url = "https://clinic.example/videos/walking"
illustration = "pictures/walk.png"   # relative to this file
illustration_alt = "Our physiotherapist Eva walking in the park."

[hip-gluteal-strength]
illustration = "{tmp_path / 'bridge.svg'}"

[balance]
illustration = ""

[core-control]
illustration_alt = "A person lying on their back, hands on the tummy."
""")
    lib = ExerciseLibrary.load(DEFAULT_DIR, overrides)
    walking = lib.get("walking")
    assert walking.video_url == "https://clinic.example/videos/walking"
    assert walking.illustration is not None
    assert (walking.illustration.path, walking.illustration.media_type,
            walking.illustration.alt) == (tmp_path / "pictures" / "walk.png", "image/png",
                                          "Our physiotherapist Eva walking in the park.")
    bridge = lib.get("hip-gluteal-strength").illustration
    assert bridge is not None and bridge.path == tmp_path / "bridge.svg"
    # A new picture does not take our drawing's description.
    assert bridge.alt == "Hip and buttock strength: Bridge on both legs"
    assert lib.get("balance").illustration is None
    core = lib.get("core-control").illustration
    assert core is not None and core.path.parent == DEFAULT_DIR / "illustrations"
    assert core.alt == "A person lying on their back, hands on the tummy."
    assert lib.get("trunk-mobility") == ExerciseLibrary.load(DEFAULT_DIR).get("trunk-mobility")
    rows = describe_programme([{"exercise": "walking", "level": 1},
                               {"exercise": "balance", "level": 1}], lib)
    assert rows[0]["video_url"] == "https://clinic.example/videos/walking"
    assert (rows[1]["illustration"], rows[1]["illustration_alt"]) == (False, "")


def test_an_empty_video_link_clears_ours(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    write(content, make_toml(video_url="https://example.org/v"))
    assert ExerciseLibrary.load(content).get("demo").video_url == "https://example.org/v"
    overrides = write_overrides(tmp_path, '[demo]\nvideo_url = ""\n')
    assert ExerciseLibrary.load(content, overrides).get("demo").video_url == ""


@pytest.mark.parametrize(("text", "match"), [
    ('[swimming]\nvideo_url = "https://clinic.example/s"',
     r"clinic-exercises\.toml: swimming: unknown exercise id \(known: back-extension, "),
    ('[walking]\nvideo_url = "http://clinic.example/w"',
     r"clinic-exercises\.toml: walking\.video_url: must be empty or an https:// link"),
    ('[walking]\nvideo_url = "javascript:alert(1)"', r"walking\.video_url: .*https://"),
    ('[walking]\nvideo_url = "https://"', r"walking\.video_url"),
    ('[walking]\nvideo_url = "https://exa mple.org/x"', r"walking\.video_url"),
    ("[walking]\nvideo_url = 3", r"walking\.video_url"),
    ('[walking]\nvideo = "https://clinic.example/w"', r"walking\.video: unknown field"),
    ('walking = "https://clinic.example/w"', r"walking: missing or not a table"),
    ('[walking]\nillustration = "/no/such/walking.png"',
     r"walking\.illustration: /no/such/walking\.png: file not found"),
    ('[walking]\nillustration = "notes.txt"', r"walking\.illustration: .*must be a \.svg"),
    ('[walking]\nillustration = "hostile.svg"',
     r"walking\.illustration: .*hostile\.svg: <path onload>: event attributes"),
    ('[walking]\nillustration = "fake.png"', r"walking\.illustration: .*not a image/png"),
    ("[walking]\nillustration = 1", r"walking\.illustration: must be a file path"),
    ('[balance]\nillustration = ""\nillustration_alt = "Standing."',
     r"balance\.illustration_alt: given without an illustration"),
    ('[walking]\nillustration_alt = ""', r"walking\.illustration_alt: must be a non-empty"),
    ("[walking\n", r"clinic-exercises\.toml: cannot read"),
])
def test_a_bad_overrides_file_names_the_file_the_exercise_and_the_field(
        tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / "fake.png").write_text("<html></html>")
    (tmp_path / "hostile.svg").write_bytes(svg('<path d="M0 0" onload="alert(1)"/>'))
    overrides = write_overrides(tmp_path, text)
    with pytest.raises(ExerciseError, match=match) as info:
        ExerciseLibrary.load(DEFAULT_DIR, overrides)
    assert str(info.value).startswith(f"{overrides}: ")


def test_a_missing_overrides_file_is_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(ExerciseError, match=r"missing\.toml: cannot read: .*No such file"):
        ExerciseLibrary.load(DEFAULT_DIR, tmp_path / "missing.toml")


def test_the_default_library_reads_the_overrides_file_named_by_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = write_overrides(tmp_path, '[walking]\nvideo_url = "https://clinic.example/w"\n')
    monkeypatch.setenv(ENV_OVERRIDES, str(overrides))
    default_library.cache_clear()
    try:
        assert default_library().get("walking").video_url == "https://clinic.example/w"
        monkeypatch.setenv(ENV_OVERRIDES, "")  # set but empty: none
        default_library.cache_clear()
        assert default_library().get("walking").video_url == ""
    finally:
        default_library.cache_clear()
