"""Clips: ``Context.open(path, clip=(from_ms, to_ms))`` and the WSGI App's ``clip_from`` /
``clip_to`` query arguments."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import pytest

import libhls
from libhls.wsgi import App
from support import MEDIA, wsgi_call

QUERY = "clip_from=3300&clip_to=7700"


def extinf_total(playlist: bytes) -> float:
    return sum(float(m) for m in re.findall(rb"#EXTINF:([0-9.]+),", playlist))


def uris(playlist: bytes) -> List[str]:
    out: List[str] = []
    for line in playlist.decode().splitlines():
        if line.startswith("#"):
            out += re.findall(r'URI="([^"]+)"', line)
        elif line.strip():
            out.append(line.strip())
    return out


def test_a_clip_plays_only_the_asked_range(ctx: libhls.Context) -> None:
    path = MEDIA / "h264_aac.mp4"
    with ctx.open(path) as whole, ctx.open(path, clip=(3300, 7700)) as clip:
        assert 4.35 <= clip.duration <= 4.45
        assert whole.duration > 25
        for name in ("t0.m3u8", "t1.m3u8"):
            assert 4.36 <= extinf_total(clip.get_bytes(name)) <= 4.44, name
        assert clip.get_bytes("t0_0.m4s") != whole.get_bytes("t0_0.m4s")
        info = clip.info
        assert info["clip"] == {"from_ms": 3300, "to_ms": 7700, "policy": "keyframe-aligned"}
        assert "clip" not in whole.info
    with ctx.open(path, clip=(3300, None), clip_policy=libhls.ClipPolicy.KEYFRAME_FORWARD) as fwd:
        assert 0 < fwd.duration <= 26.7
        assert fwd.info["clip"]["policy"] == "keyframe-forward"
    assert ctx.stats["clip_opens"] == 2


@pytest.mark.parametrize(
    "clip, policy",
    [((3_600_000, None), 0), ((5000, 4000), 0), ((1000, 2000), 9), ((-1, 2000), 0)],
)
def test_bad_clips_are_invalid_argument(
    ctx: libhls.Context, clip: Tuple[int, Optional[int]], policy: int
) -> None:
    with pytest.raises(libhls.InvalidArgumentError):
        ctx.open(MEDIA / "h264_aac.mp4", clip=clip, clip_policy=policy)


def test_wsgi_app_serves_clips_and_keeps_the_arguments() -> None:
    app = App(MEDIA)
    try:
        got: Dict[str, bytes] = {}
        queue = ["master.m3u8?" + QUERY]
        while queue:
            uri = queue.pop()
            if uri in got:
                continue
            r = wsgi_call(app, "GET", "/h264_aac.mp4/" + uri)
            assert r.status == 200, (uri, r.status, r.body[:200])
            got[uri] = r.body
            if ".m3u8" in uri:
                for u in uris(r.body):
                    assert u.endswith("?" + QUERY), f"{uri} names {u} without the clip's arguments"
                    queue.append(u)
        assert len(got) >= 8
        assert 4.36 <= extinf_total(got["t0.m3u8?" + QUERY]) <= 4.44
        whole = wsgi_call(app, "GET", "/h264_aac.mp4/t0_0.m4s")
        assert whole.status == 200 and whole.body != got["t0_0.m4s?" + QUERY]
        for bad in ("clip_from=abc", "clip_from=5000&clip_to=4000", "clip_from=-1", "clip_from=9999999"):
            r = wsgi_call(app, "GET", "/h264_aac.mp4/master.m3u8?" + bad)
            assert r.status == 400, (bad, r.status, r.body[:200])
    finally:
        app.close()
