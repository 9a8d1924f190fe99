"""3DDFA-style outputs (issue 23): 68-point landmarks, track formats, dense debug views, mesh export."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

import arfx
from arfx.geometry.ibug68 import CONNECTIONS, GROUPS, IBUG68, landmarks68


@pytest.fixture(scope="module")
def astronaut():
    rgb = data.astronaut()
    with arfx.FaceEffects("mesh", static=True) as fx:
        result = fx.track(rgb)
    assert len(result.faces) == 1
    return rgb, result


# -- 68-point iBUG landmarks ----------------------------------------------------------------

def _derived_ibug68() -> list[int]:
    """The table from ibug68's rules, on the canonical mesh."""
    from arfx.geometry.canonical import CanonicalFace
    from arfx.rerun_log import _boundary_loop, _edges, _rings, _through

    canonical = CanonicalFace.load()
    vertices = np.asarray(canonical.vertices, dtype=np.float64)
    adjacency = _edges(canonical.triangles)
    loop = _boundary_loop(canonical.triangles)

    def steps(path, count):  # the path's vertices nearest `count` equal frontal arc-length steps
        xy = vertices[path][:, :2]
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
        return [path[int(np.argmin(abs(s / s[-1] - t)))] for t in np.linspace(0, 1, count)]

    def oval(a, b):
        i, j = loop.index(a), loop.index(b)
        return loop[j:i + 1][::-1] if j < i else loop[i:j + 1]

    def through(*points, allowed=None):
        return _through(adjacency, vertices, points, allowed)

    def halves(path, middle, count):
        k = path.index(middle)
        return steps(path[:k + 1], count), steps(path[k:], count)

    jaw_right, jaw_left = steps(oval(127, 152), 9), steps(oval(356, 152), 9)
    table = jaw_right + jaw_left[::-1][1:]
    table += through(70, 107) + through(336, 300)
    table += steps(through(168, 4), 4) + through(98, 2, 327)
    for outer, top, inner, bottom in ((33, 159, 133, 145), (362, 386, 263, 374)):
        upper, lower = steps(through(outer, top, inner), 4), steps(through(inner, bottom, outer), 4)
        table += upper + lower[1:3]
    inner_loop = through(78, 13, 308, 14, 78)
    hops = _rings(adjacency, inner_loop)
    ring = {v for v, h in hops.items() if h == hops[61]}  # the outer lip line's ring
    (a, b), (c, d) = halves(through(61, 0, 291, allowed=ring), 0, 4), halves(through(291, 17, 61, allowed=ring), 17, 4)
    table += a + b[1:] + c[1:] + d[1:-1]
    (a, b), (c, d) = halves(through(78, 13, 308), 13, 3), halves(through(308, 14, 78), 14, 3)
    table += a + b[1:] + c[1:] + d[1:-1]
    return table


def test_ibug68_table_follows_its_documented_rules():
    assert len(IBUG68) == 68 and len(set(IBUG68)) == 68
    assert list(IBUG68) == _derived_ibug68()
    assert sum(last - first + 1 for first, last, _ in GROUPS.values()) == 68
    assert len(CONNECTIONS) == 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8 + 1


def test_ibug68_mirror_symmetric_on_the_canonical_face():
    from arfx.geometry.canonical import CanonicalFace

    points = np.asarray(CanonicalFace.load().vertices)[list(IBUG68)]
    # iBUG's left-right pairs: jaw k <-> 16-k, brows, eyes, nose base, lips
    pairs = [(k, 16 - k) for k in range(8)] + [(17 + k, 26 - k) for k in range(5)] + [(31, 35), (32, 34)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
    for a, b in pairs:
        assert np.allclose(points[a] * [-1, 1, 1], points[b], atol=0.05), (a, b)
    for k in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66):
        assert abs(points[k, 0]) < 0.05, k


# Read off the 512x512 astronaut at 10x zoom by hand (pixels, x right, y down).
HAND_PLACED = {
    8: (220, 177),   # chin, where the skin meets the collar
    30: (223, 127),  # nose tip (its highlight)
    33: (225, 134),  # under the nose, between the nostrils
    36: (192, 100), 39: (212, 103),  # her right eye: outer and inner corner
    42: (237, 104), 45: (258, 103),  # her left eye: inner and outer corner
    48: (202, 139), 54: (245, 142),  # mouth corners
}
# The face contour's x at the height of a jaw point (the skin's edge against hair or background).
CONTOUR_X = {0: 180, 2: 180, 4: 183, 12: 266, 14: 270, 16: 270}


def test_ibug68_on_the_astronaut_matches_hand_placed_points(astronaut):
    _, result = astronaut
    points = landmarks68(result.faces[0].landmarks)
    assert points.shape == (68, 3)
    for k, expected in HAND_PLACED.items():
        error = float(np.linalg.norm(points[k, :2] - expected))
        assert error < 4.5, f"iBUG point {k} at {points[k, :2].round(1)}, {error:.1f} px from {expected}"
    for k, x in CONTOUR_X.items():
        assert abs(points[k, 0] - x) < 4.0, f"jaw point {k} at x {points[k, 0]:.1f}, contour at {x}"
    jaw = points[:17, :2]
    assert np.all(np.diff(jaw[:9, 1]) > 0) and np.all(np.diff(jaw[8:, 1]) < 0)  # down to the chin, up again
    assert jaw[:, 1].max() == jaw[8, 1]
    assert points[17:22, 1].max() < points[36:42, 1].min()  # brows above the eyes
    assert points[36:42, 0].max() < points[42:48, 0].min()  # her right eye on the image's left


def test_landmarks68_takes_any_batch_and_refuses_short_arrays():
    batch = np.random.default_rng(0).random((2, 478, 3))
    assert landmarks68(batch).shape == (2, 68, 3)
    assert np.array_equal(landmarks68(batch)[1, 30], batch[1, 4])
    with pytest.raises(ValueError, match="468"):
        landmarks68(np.zeros((68, 2)))


# -- arfx track: npz, JSON Lines, CSV ---------------------------------------------------------

@pytest.fixture(scope="module")
def tracked_formats(tmp_path_factory):
    """One folder (two faces' photo, a photo without a face) tracked to all three formats."""
    import cv2

    from arfx.cli import main

    folder = tmp_path_factory.mktemp("formats")
    images = folder / "in"
    images.mkdir()
    cv2.imwrite(str(images / "a_astronaut.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(images / "b_coffee.png"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    outputs = {}
    for name in ("t.npz", "t.jsonl", "t.csv"):
        assert main(["track", str(images), "-o", str(folder / name)]) == 0
        outputs[name.split(".")[1]] = folder / name
    return outputs


def test_track_new_keys_are_consistent(tracked_formats):
    from arfx.track import TRACK_KEYS

    npz = np.load(tracked_formats["npz"])
    assert set(npz.files) == set(TRACK_KEYS)
    assert npz["face_count"].tolist() == [1, 0]
    assert npz["face_landmarks68"].shape == (1, 68, 3)
    assert np.array_equal(npz["face_landmarks68"][0], npz["face_landmarks"][0][list(IBUG68)])
    x0, y0, x1, y1 = npz["face_box"][0]
    xy = npz["face_landmarks"][0, :, :2]
    assert (x0, y0, x1, y1) == (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())
    assert 150 / 512 < x0 < x1 < 290 / 512 and 30 / 512 < y0 < y1 < 200 / 512
    assert np.array_equal(npz["face_translation"][0], npz["face_pose"][0, :3, 3])
    assert -90 < npz["face_translation"][0, 2] < -40  # in front of the camera (-z), tens of cm away
    assert npz["face_translation"][0, 1] > 0  # the face is in the image's upper half: y up


def _same(value, expected) -> None:
    expected = np.asarray(expected)
    if expected.dtype.kind == "f":
        got = np.asarray([np.nan if v is None else v for v in np.ravel(np.asarray(value, dtype=object))],
                         dtype=np.float32).reshape(expected.shape)
        finite = np.isfinite(expected)
        assert np.array_equal(got[finite], expected[finite]) and np.isnan(got[~finite]).all()
    else:
        assert np.asarray(value).tolist() == expected.tolist()


def test_jsonl_holds_the_npz_values(tracked_formats):
    import json

    npz = np.load(tracked_formats["npz"])
    lines = tracked_formats["jsonl"].read_text().splitlines()
    assert len(lines) == 2
    frames = [json.loads(line) for line in lines]
    for i, frame in enumerate(frames):
        for key in ("schema_version", "fps", "fov", "near", "fov_source", "expression_names"):
            _same(frame[key], npz[key])
        for key in ("frame_index", "frame_name", "frame_fov", "width", "height"):  # sizes differ here
            _same(frame[key], npz[key][i])
        assert len(frame["faces"]) == npz["face_count"][i]
        for j, face in enumerate(frame["faces"], start=npz["face_offset"][i]):
            assert set(face) == {key for key in npz.files if key.startswith("face_")} - {"face_count", "face_offset"}
            for key, value in face.items():
                _same(value, npz[key][j])
    assert frames[0]["fov_uncertainty"] is None  # NaN in the npz (no --fov auto)


def test_csv_holds_the_npz_values(tracked_formats):
    from arfx.export import read_csv_rows

    npz = np.load(tracked_formats["npz"])
    rows = read_csv_rows(tracked_formats["csv"])
    assert len(rows) == 1  # one row per face; the coffee frame has none
    row = rows[0]
    assert row["frame_name"] == "a_astronaut.png" and int(row["face_id"]) == int(npz["face_id"][0])
    landmarks = np.array([[float(row[f"face_landmarks_{i}_{c}"]) for c in "xyz"] for i in range(468)], np.float32)
    assert np.array_equal(landmarks, npz["face_landmarks"][0])
    assert np.array_equal(np.float32([row[f"face_pose_{r}_{c}"] for r in range(4) for c in range(4)]),
                          npz["face_pose"][0].ravel())
    assert np.array_equal(np.float32([row[f"face_box_{k}"] for k in ("x0", "y0", "x1", "y1")]), npz["face_box"][0])
    assert float(row["face_euler_yaw"]) == npz["face_euler"][0, 0]
    jaw = list(npz["expression_names"]).index("jawOpen")
    assert float(row["face_expressions_jawOpen"]) == npz["face_expressions"][0, jaw]
    assert np.array_equal(np.float32([row[f"face_landmarks68_{i}_y"] for i in range(68)]),
                          npz["face_landmarks68"][0, :, 1])
    assert float(row["fov"]) == float(npz["fov"]) and row["fov_uncertainty"] == "nan"


def test_track_format_flag_and_errors(tmp_path, tracked_formats):
    import json

    from arfx.cli import main

    image = tmp_path / "a.png"
    import cv2
    cv2.imwrite(str(image), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.txt"
    assert main(["track", str(image), "-o", str(out), "--format", "jsonl"]) == 0
    assert json.loads(out.read_text())["faces"][0]["face_id"] >= 0
    assert main(["track", str(image), "-o", str(tmp_path / "x.txt")]) != 0  # no format from .txt
    assert main(["track", str(image), "-o", str(tmp_path / "h.csv"), "--hands"]) != 0
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "h.csv").exists()


# -- debug views: posebox, depth, normals, sparse68 ---------------------------------------------

@pytest.fixture(scope="module")
def views(astronaut):
    rgb, _ = astronaut
    drawn = {}
    with arfx.FaceEffects("mesh", static=True) as fx:
        for name in ("posebox", "depth", "normals", "sparse68"):
            fx.effect = name
            drawn[name] = fx(rgb)
            assert len(fx.faces) == 1
    return drawn


def _changed(rgb, out) -> np.ndarray:
    return np.abs(out.astype(int) - rgb.astype(int)).max(axis=2) > 40


def test_debug_views_are_listed_as_debug_built_ins():
    from arfx.effects.kinds import KINDS
    from arfx.effects.registry import EffectRegistry

    for name in ("posebox", "depth", "normals", "sparse68"):
        assert KINDS[name].debug
        effect = EffectRegistry().load(name)
        assert effect.kind == name


def test_posebox_draws_the_head_aligned_box(astronaut, views):
    from arfx.effects.dense import pose_box_corners

    rgb, result = astronaut
    out, face = views["posebox"], result.faces[0]
    changed = _changed(rgb, out)
    assert 800 < changed.sum() < 6000  # lines, not a fill
    # every projected corner of the box has line pixels at it
    corners = pose_box_corners() @ face.pose[:3, :3].T + face.pose[:3, 3]
    pixels = result.camera.project(corners, 512, 512)
    for x, y in pixels:
        x, y = int(round(x)), int(round(y))
        assert changed[y - 2:y + 3, x - 2:x + 3].any(), (x, y)
    ys, xs = np.nonzero(changed)
    assert xs.min() > 130 and xs.max() < 330 and ys.min() > 20 and ys.max() < 230  # around the head only
    assert out[changed][:, 1].mean() > 200  # the box's green


def test_depth_view_is_a_grey_ramp_nearest_at_the_nose(astronaut, views):
    rgb, result = astronaut
    out = views["depth"].astype(int)
    points = landmarks68(result.faces[0].landmarks)[:, :2].round().astype(int)
    on_face = out[95:132, 190:260]  # above the mouth (the mesh is open between the lips)
    assert np.abs(on_face[..., 0] - on_face[..., 1]).max() <= 2 and np.abs(on_face[..., 1] - on_face[..., 2]).max() <= 2
    tip = out[points[30, 1], points[30, 0], 0]
    cheek = out[points[2, 1], points[2, 0] + 4, 0]  # just inside the jaw line: far
    eye = out[points[36, 1], points[36, 0], 0]
    assert tip > 235 and tip > eye + 20 > cheek + 20, (tip, eye, cheek)
    assert np.array_equal(out[300:, :], rgb[300:, :].astype(int))  # nothing below the face


def test_normals_view_colours_by_direction(astronaut, views):
    rgb, result = astronaut
    out = views["normals"].astype(int)
    points = landmarks68(result.faces[0].landmarks)[:, :2].round().astype(int)

    def colour(k, dx=0):
        x, y = points[k, 0] + dx, points[k, 1]
        return out[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(axis=0)

    assert colour(30)[2] > 220  # the nose tip faces the camera: blue
    right, left = colour(2, 6), colour(14, -6)  # her right cheek faces image left (-x), her left +x
    assert left[0] > right[0] + 60, (left, right)
    def at(xy):
        x, y = np.round(xy).astype(int)
        return out[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(axis=0)

    chin = at(points[8] + 0.35 * (points[57] - points[8]))  # inside the mesh, above its lower edge
    brow = at(points[19] - [0, 6])
    assert brow[1] > chin[1] + 40, (brow, chin)  # the brow faces up (green), the chin down


def test_sparse68_draws_points_and_lines(astronaut, views):
    rgb, result = astronaut
    out = views["sparse68"].astype(int)
    points = landmarks68(result.faces[0].landmarks)[:, :2]
    yellow = (out[..., 0] > 200) & (out[..., 1] > 170) & (out[..., 2] < 90)
    for x, y in points.round().astype(int):
        assert yellow[y - 1:y + 2, x - 1:x + 2].any(), (x, y)
    # a line: the middle of the jaw segment 3-4 is drawn
    x, y = ((points[3] + points[4]) / 2).round().astype(int)
    assert yellow[y - 1:y + 2, x - 1:x + 2].any()
    assert 100 < yellow.sum() < 3000


# -- dense mesh export and face texture capture -----------------------------------------------

@pytest.fixture(scope="module")
def astronaut_file(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize("fmt", ["obj", "ply", "glb"])
def test_track_mesh_out_writes_loadable_meshes(astronaut_file, astronaut, tmp_path, fmt):
    import trimesh

    from arfx.cli import main
    from arfx.geometry.canonical import CanonicalFace

    folder = tmp_path / "meshes"
    assert main(["track", str(astronaut_file), "--mesh-out", str(folder), "--mesh-format", fmt]
                + (["--mesh-texture"] if fmt != "ply" else [])) == 0
    files = sorted(folder.glob(f"*.{fmt}"))
    assert [f.name for f in files] == [f"astronaut_000000_face0.{fmt}"]
    mesh = trimesh.load(files[0], process=False, force="mesh")
    canonical = CanonicalFace.load()
    assert mesh.vertices.shape == (468, 3) and mesh.faces.shape == (898, 3)
    assert np.array_equal(mesh.faces, canonical.triangles)
    expected = astronaut[1].faces[0].mesh * (0.01 if fmt == "glb" else 1.0)
    assert np.abs(mesh.vertices - expected).max() < 2e-4
    assert np.allclose(mesh.visual.uv, np.c_[canonical.uvs[:, 0], 1 - canonical.uvs[:, 1]], atol=1e-5)
    if fmt != "ply":
        image = np.asarray(mesh.visual.material.image if fmt == "obj" else mesh.visual.material.baseColorTexture)
        assert image.shape[:2] == (512, 512)
    assert main(["track", str(astronaut_file), "--mesh-out", str(folder), "--mesh-format", fmt]) != 0  # exists


def test_capture_matches_the_frame_and_looks_like_a_face(astronaut):
    from arfx.export import capture_face_texture, mirror_fill
    from arfx.geometry.canonical import CanonicalFace
    from arfx.render.context import create_headless_context

    rgb, result = astronaut
    face = result.faces[0]
    ctx = create_headless_context()
    try:
        texture = capture_face_texture(ctx, rgb, face.mesh, result.camera, 256)
    finally:
        ctx.release()
    assert texture.shape == (256, 256, 4) and texture.dtype == np.uint8
    # Each visible vertex's texel holds the frame's colour where the vertex is seen.
    uvs = CanonicalFace.load().uvs
    texel = texture[np.clip((uvs[:, 1] * 256).astype(int), 0, 255), np.clip((uvs[:, 0] * 256).astype(int), 0, 255)]
    pixels = result.camera.project(face.mesh, 512, 512).astype(int)
    seen = rgb[pixels[:, 1], pixels[:, 0]].astype(int)
    visible = texel[:, 3] == 255
    assert visible.sum() > 300
    assert np.median(np.abs(texel[visible, :3].astype(int) - seen[visible])) < 12
    # skin where the cheeks are (UV layout: her right cheek on the left), darker eyes, red lips
    def mean(u0, v0, u1, v1):
        return texture[int(v0 * 256):int(v1 * 256), int(u0 * 256):int(u1 * 256), :3].reshape(-1, 3).mean(axis=0)

    for cheek in (mean(0.25, 0.5, 0.35, 0.6), mean(0.65, 0.5, 0.75, 0.6)):
        r, g, b = cheek
        assert r > g > b and r > 150 and r - b > 30, cheek  # skin: red over green over blue
    lips = mean(0.42, 0.66, 0.58, 0.70)
    assert lips[0] - lips[1] > 25, lips
    assert texture[0:10, :, 3].max() == 0 and texture[:, 0:3, 3].max() == 0  # outside the face: transparent
    filled = mirror_fill(texture)
    assert (filled[..., 3] >= texture[..., 3]).all() and filled[..., 3].sum() >= texture[..., 3].sum()


def test_capture_face_command(astronaut_file, tmp_path):
    import cv2

    from arfx.cli import main

    out = tmp_path / "face.png"
    assert main(["capture-face", str(astronaut_file), "-o", str(out), "--size", "128", "--mirror"]) == 0
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert image.shape == (128, 128, 4) and image[64, 64, 3] == 255
    coffee = tmp_path / "coffee.png"
    cv2.imwrite(str(coffee), data.coffee())
    assert main(["capture-face", str(coffee), "-o", str(tmp_path / "none.png")]) != 0
    assert not (tmp_path / "none.png").exists()


# -- face swap ----------------------------------------------------------------------------------

def test_swap_mask_is_soft_and_keeps_eyes_and_mouth_open():
    from arfx.effects.faceswap import swap_mask
    from arfx.geometry.canonical import CanonicalFace

    mask = swap_mask(256)
    uv = (np.asarray(CanonicalFace.load().uvs) * 256).astype(int)

    def at(vertex):
        return mask[uv[vertex, 1], uv[vertex, 0]]

    assert at(4) > 0.99 and at(50) > 0.99 and at(280) > 0.99  # nose tip, both cheeks
    assert at(468 - 1) >= 0  # in range
    for eye_or_mouth in (159, 145, 386, 374, 13, 14, 78, 308):  # lids, inner lips: the target's own
        assert at(eye_or_mouth) < 0.2, eye_or_mouth
    assert at(10) < 0.2 and at(152) < 0.2  # the outline fades out
    row = mask[int(uv[4, 1])]
    ramp = row[(row > 0.02) & (row < 0.98)]
    assert len(ramp) >= 6  # a feathered edge, several texels wide, not a step


def test_faceswap_matches_the_target_colour_and_keeps_its_eyes(astronaut):
    rgb, result = astronaut
    tinted = np.clip(rgb * np.array([0.75, 0.9, 1.15]), 0, 255).astype(np.uint8)  # a bluish light
    with arfx.FaceEffects("faceswap", static=True) as fx:
        out = fx(tinted).astype(int)
        assert len(fx.faces) == 1
        points = landmarks68(fx.faces[0].landmarks)[:, :2]
    changed = np.abs(out - tinted.astype(int)).max(axis=2) > 12
    ys, xs = np.nonzero(changed)
    # her own face swapped onto herself: what shows is the re-sampled, re-coloured skin
    assert changed.sum() > 1000 and xs.min() > 160 and xs.max() < 290 and ys.min() > 40 and ys.max() < 190
    # the swapped cheeks take the target's (bluish) colour, not the photo's own
    def patch(image, k, dx):
        x, y = points[k].astype(int)
        return image[y - 8:y + 8, x + dx - 5:x + dx + 5].reshape(-1, 3).mean(axis=0)

    for k, dx in ((3, 14), (13, -14)):
        swapped, target, source = patch(out, k, dx), patch(tinted, k, dx), patch(rgb, k, dx)
        assert np.abs(swapped - target).max() < 0.35 * np.abs(source - target).max(), (swapped, target, source)
    # the target's eyes and mouth opening are its own
    for x, y in (points[36:42].mean(axis=0), points[42:48].mean(axis=0), points[[62, 66]].mean(axis=0)):
        x, y = int(round(x)), int(round(y))
        assert np.abs(out[y - 1:y + 2, x - 1:x + 2] - tinted[y - 1:y + 2, x - 1:x + 2]).mean() < 6, (x, y)


def test_faceswap_leaves_the_photos_hair_behind(astronaut):
    """A photo with hair over the forehead (a dark fringe painted above the brows): the swapped
    face takes its face from the brows down, so the target's own forehead and hair stay."""
    from arfx.effects.faceswap import FaceSwapEffect

    rgb, result = astronaut
    landmarks = result.faces[0].landmarks
    brows = landmarks68(landmarks)[17:27, :2]
    top = landmarks[10, 1]                                     # the mesh's top, mid-forehead
    x0, x1 = int(brows[:, 0].min()), int(brows[:, 0].max())
    y0, y1 = int(top) + 2, int(brows[:, 1].min() - 0.45 * (brows[:, 1].min() - top))
    fringe = rgb.copy()
    fringe[y0:y1, x0:x1] = (40, 25, 15)
    with arfx.FaceEffects(FaceSwapEffect("fringe", fringe, source_name="fringe"), static=True) as fx:
        out = fx(rgb).astype(int)
    forehead = np.abs(out[y0:y1, x0:x1] - rgb[y0:y1, x0:x1].astype(int)).mean()
    cheeks = np.abs(out - rgb.astype(int))[int(brows[:, 1].max()) + 10:, x0:x1].max()
    assert forehead < 4, forehead                              # no dark band on her forehead
    assert cheeks > 12                                         # while the face below is swapped


def test_faceswap_errors_name_the_fix(tmp_path):
    import cv2

    from arfx.effects.registry import EffectRegistry
    from arfx.errors import ArfxError

    folder = tmp_path / "effects" / "noface"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "coffee.png"), data.coffee())
    (folder / "effect.toml").write_text('kind = "faceswap"\nasset = "coffee.png"\n')
    effect = EffectRegistry([tmp_path / "effects"]).load("noface")
    with pytest.raises(ArfxError, match="no face found.*front"):
        with arfx.FaceEffects(effect, static=True) as fx:
            fx(data.astronaut())
    (folder / "effect.toml").write_text('kind = "faceswap"\nasset = "coffee.png"\n[faceswap]\nfeathr = 0.1\n')
    with pytest.raises(ArfxError, match="did you mean 'feather'"):
        EffectRegistry([tmp_path / "effects"]).load("noface")


def test_visibility_hides_what_the_nose_covers_on_a_turned_face():
    from arfx.effects.faceswap import facing
    from arfx.export import vertex_visibility
    from arfx.geometry.camera import PerspectiveCamera
    from arfx.geometry.canonical import CanonicalFace

    canonical, camera = CanonicalFace.load(), PerspectiveCamera()
    for yaw in (0, 55):
        a = np.radians(yaw)
        turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        mesh = np.asarray(canonical.vertices) @ turn.T + [0, 0, -50]
        visible = vertex_visibility(mesh, canonical.triangles, 1280, 720, camera)
        covered = np.flatnonzero((visible == 0) & (facing(mesh, canonical.triangles) > 0.35))
        if yaw == 0:
            assert len(covered) <= 3 and (visible > 0).sum() > 400
        else:  # turned to her left: her left cheek beside the nose is behind it
            assert len(covered) >= 5
            assert (canonical.vertices[covered, 0] > 0).all()  # all on her left (+x)
            assert np.abs(canonical.vertices[covered, 0]).max() < 4.0  # next to the nose, not the far edge


def test_export_mesh_command(astronaut_file, astronaut, tmp_path):
    import trimesh

    from arfx.cli import main

    out = tmp_path / "face.glb"
    assert main(["export-mesh", str(astronaut_file), "-o", str(out), "--texture"]) == 0
    mesh = trimesh.load(out, process=False, force="mesh")
    assert mesh.vertices.shape == (468, 3)
    assert np.abs(mesh.vertices * 100 - astronaut[1].faces[0].mesh).max() < 0.05  # metres; same fit
    assert np.asarray(mesh.visual.material.baseColorTexture).shape[:2] == (512, 512)
    assert main(["export-mesh", str(astronaut_file), "-o", str(tmp_path / "face.txt")]) != 0
    folder = astronaut_file.parent
    assert main(["export-mesh", str(folder), "-o", str(tmp_path / "all"), "--mesh-format", "ply"]) == 0
    assert [p.name for p in (tmp_path / "all").iterdir()] == ["photo0_000000_face0.ply"]
