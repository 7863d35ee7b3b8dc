from PIL import Image, ImageDraw

from jenkins_docker_ci.checks.pixels import RED, compare


def page(size=(120, 80), box=None, color="black"):
    image = Image.new("RGB", size, "white")
    if box:
        ImageDraw.Draw(image).rectangle(box, fill=color)
    return image


def test_identical_images_pass():
    diff = compare(page(box=(5, 5, 20, 20)), page(box=(5, 5, 20, 20)))
    assert (diff.changed, diff.ratio, diff.size_mismatch) == (0, 0.0, "")
    assert diff.verdict(0.0) == ("passed", "identical")


def test_changed_pixels_are_counted_and_painted_red_over_a_faded_baseline():
    diff = compare(page(), page(box=(10, 10, 19, 19)))  # a 10x10 square
    assert diff.changed == 100 and diff.total == 120 * 80
    assert diff.image.getpixel((15, 15)) == RED
    faded = diff.image.getpixel((60, 60))
    assert faded != RED and faded[0] == faded[1] == faded[2]  # grey, not colour: the change stands out
    status, reason = diff.verdict(0.001)
    assert status == "failed" and "100 of 9600 pixels" in reason


def test_per_pixel_threshold_ignores_small_colour_shifts():
    slightly = page(box=(0, 0, 119, 79), color=(250, 250, 250))
    assert compare(page(), slightly, threshold=0.1).changed == 0
    assert compare(page(), slightly, threshold=0.0).changed == 120 * 80


def test_max_ratio_allows_a_few_pixels():
    diff = compare(page(), page(box=(0, 0, 0, 0)))  # one pixel
    assert diff.verdict(0.001)[0] == "passed"
    assert diff.verdict(0.0)[0] == "failed"


def test_a_size_mismatch_fails_with_both_sizes_and_counts_the_extra_area():
    diff = compare(page((100, 50)), page((100, 60)))
    assert diff.size_mismatch == "baseline 100x50, PR 100x60"
    assert diff.changed == 100 * 10 and diff.image.size == (100, 60)
    assert diff.image.getpixel((50, 55)) == RED
    status, reason = diff.verdict(1.0)  # whatever the allowed ratio
    assert status == "failed" and "size differs (baseline 100x50, PR 100x60)" in reason


def test_alpha_and_palette_images_compare_as_rgb():
    rgba = page().convert("RGBA")
    palette = page().convert("P")
    assert compare(rgba, palette).changed == 0
