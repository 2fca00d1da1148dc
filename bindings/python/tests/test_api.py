"""Context / Media / Buffer: results, options, errors, closing and use after close."""

from __future__ import annotations

import datetime
import gc
import hashlib
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any, Callable, List

import pytest

import libhls
from libhls import Status
from support import MEDIA, crawl, playlist_uris


# --- Results -----------------------------------------------------------------------------------


def test_open_get_info_duration_stats(ctx: libhls.Context) -> None:
    with ctx.open(MEDIA / "h264_aac.mp4") as media:
        assert media.path == str(MEDIA / "h264_aac.mp4")
        assert media.duration == pytest.approx(30.0, abs=0.5)
        info = media.info
        assert info["duration"] == pytest.approx(media.duration)
        assert info["indexed_from"] == "mp4 sample tables"
        assert [t["type"] for t in info["tracks"]] == ["video", "audio"]
        with media.get("master.m3u8") as buf:
            assert buf.content_type == "application/vnd.apple.mpegurl"
            text = bytes(buf).decode()
            assert text.startswith("#EXTM3U")
            assert len(buf) == len(text.encode())
        names = playlist_uris(text)
        assert names and all(n.endswith(".m3u8") for n in names)
        media_playlist = media.get_bytes(names[0]).decode()
        init = next(u for u in playlist_uris(media_playlist) if u.endswith("_init.mp4"))
        seg = next(u for u in playlist_uris(media_playlist) if u.endswith(".m4s"))
        with media.get(init) as buf:
            assert buf.content_type in ("video/mp4", "audio/mp4")
            assert bytes(buf)[4:8] == b"ftyp"
        with media.get(seg) as a, media.segment(seg) as b:
            assert bytes(a) == bytes(b)
        assert media.playlist("master.m3u8").tobytes() == text.encode()
    stats = ctx.stats
    for key in ("cache_hits", "cache_misses", "opens", "indexings", "cache_budget"):
        assert isinstance(stats[key], int), key
    assert stats["opens"] >= 1


def test_names_as_bytes_and_paths_as_str_bytes_pathlike(ctx: libhls.Context) -> None:
    path = MEDIA / "h264_aac.mkv"
    for p in (path, str(path), os.fsencode(path)):
        with ctx.open(p) as media:
            assert media.get_bytes(b"master.m3u8") == media.get_bytes("master.m3u8")
    with ctx.open(path) as media:
        assert media.info["indexed_from"] == "matroska cues"


def test_buffer_slices_and_repr(media: libhls.Media) -> None:
    with media.get("master.m3u8") as buf:
        whole = bytes(buf)
        assert buf.tobytes(3, 10) == whole[3:10]
        assert buf.tobytes(-5) == whole[-5:]
        assert buf.tobytes(50, 10) == b""
        assert buf.tobytes(0, 10**9) == whole
        assert "mpegurl" in repr(buf)
    assert "closed" in repr(buf)


# --- Options -----------------------------------------------------------------------------------


def _segments(ctx: libhls.Context) -> int:
    with ctx.open(MEDIA / "h264_aac.mp4") as media:
        return int(media.info["segments"])


def test_options_take_effect() -> None:
    with libhls.Context() as ctx:
        default = _segments(ctx)
    with libhls.Context(segment_duration=2.0) as ctx:
        assert _segments(ctx) > default
    with libhls.Context(segment_duration=datetime.timedelta(seconds=2)) as ctx:
        assert _segments(ctx) > default
    with libhls.Context(cache_bytes=12345) as ctx:
        assert 12000 <= ctx.stats["cache_budget"] <= 12345  # libhls may round it down
    with libhls.Context(
        idle_media=(3, datetime.timedelta(minutes=1)),
        transcode_policy=libhls.TranscodePolicy.BROWSER_SAFE,
        aac_bitrate=96_000,
        aac_keep_surround=True,
        use_container_index=False,
    ) as ctx:
        with ctx.open(MEDIA / "h264_aac.mkv") as media:
            assert media.info["indexed_from"] == "packet scan"
    with libhls.Context(transcode_policy=libhls.TranscodePolicy.NEVER) as ctx:
        with ctx.open(MEDIA / "dts.mkv") as media:
            audio = [t for t in media.info["tracks"] if t["type"] == "audio"]
            assert audio and not any(t["served"] for t in audio)


def test_a_second_context_opens_from_the_index_dir(tmp_path: Any) -> None:
    presentations = []
    for expect_disk in (False, True):
        with libhls.Context(index_dir=tmp_path) as ctx:
            with ctx.open(MEDIA / "h264_aac.mp4") as media:
                assert media.info["index_from_disk"] is expect_disk
                presentations.append((bytes(media.get("master.m3u8")), bytes(media.get("t0_0.m4s"))))
            stats = ctx.stats
            assert stats["index_dir"] == str(tmp_path)
            assert (stats["index_file_hits"], stats["index_file_misses"]) == ((1, 0) if expect_disk else (0, 1))
    assert presentations[0] == presentations[1]
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".hlsidx"]) == 1


@pytest.mark.parametrize(
    "options",
    [
        {"segment_length": 4},
        {"cache": 1},
        {"segment_duration": 4, "bogus": True},
    ],
)
def test_unknown_option_is_a_type_error(options: Any) -> None:
    with pytest.raises(TypeError):
        libhls.Context(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"segment_duration": "6"},
        {"segment_duration": True},
        {"cache_bytes": 1.5},
        {"cache_bytes": "big"},
        {"idle_media": 5},
        {"idle_media": (1, 2, 3)},
        {"idle_media": (1.5, 10)},
        {"transcode_policy": "never"},
        {"aac_bitrate": 128e3},
        {"aac_keep_surround": "yes"},
        {"use_container_index": "no"},
        {"thumbnails": 320},
        {"thumbnails": (320.0, 10)},
    ],
)
def test_option_of_the_wrong_type_is_a_type_error(options: Any) -> None:
    with pytest.raises(TypeError):
        libhls.Context(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"segment_duration": 0.5},  # libhls: 1..60 s
        {"segment_duration": 61},
        {"segment_duration": -1},  # the binding: no negative
        {"segment_duration": float("nan")},
        {"segment_duration": 10**12},  # would not fit uint32 milliseconds
        {"cache_bytes": -1},
        {"cache_bytes": 2**64},
        {"idle_media": (-1, 10)},
        {"idle_media": (1, -10)},
        {"transcode_policy": 99},
        {"transcode_policy": -1},
        {"aac_bitrate": 1000},
        {"aac_bitrate": 10**7},
        {"thumbnails": (5000, 10)},  # libhls: 16..1920 px
        {"thumbnails": (160, 0.1)},  # libhls: 0.5..600 s
        {"thumbnails": (-1, 10)},
        {"max_index_bytes": 4095},
        {"max_index_bytes": 2**64},
    ],
)
def test_option_out_of_range_is_invalid_argument(options: Any) -> None:
    with pytest.raises(libhls.InvalidArgumentError) as info:
        libhls.Context(**options)
    assert info.value.status == Status.INVALID_ARGUMENT
    assert isinstance(info.value, ValueError)


def test_thumbnails_option_sets_tile_width_and_interval() -> None:
    with libhls.Context(thumbnails=(160, datetime.timedelta(seconds=2))) as ctx:
        with ctx.open(MEDIA / "h264_aac.mp4") as media:
            vtt = media.get("thumbnails.vtt")
            assert vtt.content_type == "text/vtt"
            text = bytes(vtt).decode()
            # 30 s, a tile every 2 s: 15 cues of 160x90 tiles on one 5x5 sheet.
            assert text.count(" --> ") == 15
            assert "00:00:02.000 --> 00:00:04.000\nthumbs_0.jpg#xywh=160,0,160,90\n" in text
            assert media.info["thumbnails"]["width"] == 160
            for name in ("thumbs_0.jpg", "thumb_12000.jpg"):
                jpeg = media.get(name)
                assert jpeg.content_type == "image/jpeg" and bytes(jpeg)[:2] == b"\xff\xd8", name
            with pytest.raises(libhls.NotFoundError):
                media.get("thumb_30000.jpg")  # past the end
        with ctx.open(MEDIA / "audio_only.m4a") as audio, pytest.raises(libhls.NotFoundError):
            audio.get("thumbnails.vtt")
    with libhls.Context(thumbnails=(0, 0)) as ctx, ctx.open(MEDIA / "h264_aac.mp4") as media:
        with pytest.raises(libhls.NotFoundError):
            media.get("thumbnails.vtt")


# --- Errors ------------------------------------------------------------------------------------


def test_missing_file_is_io_error(ctx: libhls.Context) -> None:
    with pytest.raises(libhls.IoError) as info:
        ctx.open(MEDIA / "does-not-exist.mp4")
    err = info.value
    assert err.status == Status.IO and "does-not-exist.mp4" in err.message
    assert isinstance(err, OSError) and isinstance(err, libhls.HlsError)
    assert err.errno is None
    assert str(err) == f"HLS_ERR_IO: {err.message}"
    with pytest.raises(libhls.IoError):
        ctx.open(MEDIA)  # a folder


@pytest.mark.parametrize("name", ["text.mp4", "empty.mp4", "truncated.mp4", "truncated.mkv"])
def test_not_media_is_invalid_media(ctx: libhls.Context, name: str) -> None:
    with pytest.raises(libhls.InvalidMediaError) as info:
        ctx.open(MEDIA / name)
    assert info.value.status == Status.INVALID_MEDIA
    assert name in info.value.message


def test_corrupt_data_fails_cleanly_or_serves(ctx: libhls.Context) -> None:
    """Random bytes inside mdat: either an error for the damaged segment or bytes; no crash."""
    with ctx.open(MEDIA / "corrupt.mp4") as media:
        try:
            crawl(media.get_bytes)
        except libhls.HlsError as err:
            assert err.status in (Status.INVALID_MEDIA, Status.UNSUPPORTED), err


def test_file_over_the_index_ceiling_is_unsupported_and_the_default_opens_it() -> None:
    # h264_aac.mp4 has about 800 samples (about 50 kB of index): over a 4 kB ceiling.
    with libhls.Context(max_index_bytes=4096) as ctx:
        with pytest.raises(libhls.UnsupportedError) as info:
            ctx.open(MEDIA / "h264_aac.mp4")
        assert info.value.status == Status.UNSUPPORTED
        assert "max_index_bytes" in info.value.message
    with libhls.Context(max_index_bytes=64 << 20) as ctx:
        with ctx.open(MEDIA / "h264_aac.mp4") as media:
            assert media.get_bytes("master.m3u8").startswith(b"#EXTM3U")


def test_no_playable_tracks(ctx: libhls.Context) -> None:
    with pytest.raises(libhls.NoPlayableTracksError) as info:
        ctx.open(MEDIA / "no_av.mkv")
    assert info.value.status == Status.NO_PLAYABLE_TRACKS


def test_unknown_name_is_not_found(media: libhls.Media) -> None:
    with pytest.raises(libhls.NotFoundError) as info:
        media.get("t9_999.m4s")
    assert isinstance(info.value, LookupError)
    assert "t9_999.m4s" in info.value.message
    with pytest.raises(LookupError):
        media.get("nothing.m3u8")


@pytest.mark.parametrize("name", ["../master.m3u8", "/master.m3u8", "master.m3u8?x=1", "a\x01b"])
def test_malformed_names_are_invalid_argument(media: libhls.Media, name: str) -> None:
    with pytest.raises(libhls.InvalidArgumentError):
        media.get(name)


def test_nul_bytes_are_invalid_argument(ctx: libhls.Context, media: libhls.Media) -> None:
    with pytest.raises(libhls.InvalidArgumentError):
        media.get("master.m3u8\0.vtt")
    with pytest.raises(libhls.InvalidArgumentError):
        media.get(b"master\0")
    with pytest.raises(libhls.InvalidArgumentError):
        ctx.open(str(MEDIA / "h264_aac.mp4") + "\0.txt")


def test_bad_utf8(ctx: libhls.Context, media: libhls.Media) -> None:
    with pytest.raises(libhls.InvalidUtf8Error):
        media.get("t0\ud800.m3u8")  # a lone surrogate cannot be UTF-8
    with pytest.raises(libhls.InvalidUtf8Error) as info:
        media.get(b"t0\xff.m3u8")  # checked by libhls
    assert info.value.status == Status.INVALID_UTF8
    with pytest.raises(libhls.InvalidUtf8Error):
        ctx.open(b"/tmp/\xff.mp4")
    with pytest.raises(libhls.InvalidUtf8Error):
        ctx.open("/tmp/\udcff.mp4")  # os.fsencode -> b"\xff": libhls says not UTF-8
    with pytest.raises(libhls.InvalidUtf8Error):
        ctx.open("/tmp/\ud800.mp4")  # not even encodable


def test_wrong_argument_types(ctx: libhls.Context, media: libhls.Media) -> None:
    with pytest.raises(TypeError):
        media.get(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ctx.open(12)  # type: ignore[arg-type]


def test_errors_pickle_and_repr() -> None:
    err = libhls.NotFoundError(Status.NOT_FOUND, "'x' is not named")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is libhls.NotFoundError
    assert (again.status, again.message) == (Status.NOT_FOUND, "'x' is not named")
    io = pickle.loads(pickle.dumps(libhls.IoError(Status.IO, "gone")))
    assert (type(io), io.status, io.message, str(io)) == (libhls.IoError, Status.IO, "gone", "HLS_ERR_IO: gone")
    assert "NotFoundError" in repr(err)
    for status in Status:
        if status != Status.OK:
            cls = type(libhls._errors.error_from(status, "m"))
            assert cls.__name__.endswith("Error") and issubclass(cls, libhls.HlsError)


# --- Closing -----------------------------------------------------------------------------------


def test_double_close_and_use_after_close() -> None:
    ctx = libhls.Context()
    media = ctx.open(MEDIA / "h264_aac.mp4")
    buf = media.get("master.m3u8")
    for obj in (buf, media, ctx):
        obj.close()
        obj.close()
        assert obj.closed
    with pytest.raises(libhls.ClosedError):
        ctx.open(MEDIA / "h264_aac.mp4")
    with pytest.raises(libhls.ClosedError):
        ctx.stats
    calls: List[Callable[[], object]] = [
        lambda: media.get("master.m3u8"),
        lambda: media.info,
        lambda: media.duration,
        lambda: media.get_bytes("master.m3u8"),
        lambda: bytes(buf),
        lambda: len(buf),
        buf.memoryview,
        buf.tobytes,
    ]
    for call in calls:
        with pytest.raises(libhls.ClosedError):
            call()
    assert buf.content_type == "application/vnd.apple.mpegurl"
    assert isinstance(libhls.ClosedError("x"), ValueError)


def test_buffers_stay_valid_after_media_and_context_close() -> None:
    ctx = libhls.Context()
    media = ctx.open(MEDIA / "multi_audio.mkv")
    files = crawl(media.get_bytes)
    buffers = {name: media.get(name) for name in files}
    views = {name: buf.memoryview() for name, buf in buffers.items()}
    media.close()
    ctx.close()
    gc.collect()
    for name, data in files.items():
        assert bytes(buffers[name]) == data
        assert views[name] == data
        views[name].release()
        buffers[name].close()


def test_media_keeps_working_after_its_context_is_closed() -> None:
    ctx = libhls.Context()
    media = ctx.open(MEDIA / "h264_aac.mp4")
    ctx.close()
    assert crawl(media.get_bytes)
    media.close()


def test_memoryview_is_zero_copy_read_only_and_blocks_close(media: libhls.Media) -> None:
    buf = media.get("master.m3u8")
    data = bytes(buf)
    view = buf.memoryview()
    assert view.readonly and view.format == "B" and view.nbytes == len(data)
    assert view == data
    with pytest.raises(TypeError):
        view[0] = 0
    tail = view[10:]
    assert buf.exports == 1
    view.release()
    with pytest.raises(BufferError):
        buf.close()  # the slice still looks at the bytes
    assert not buf.closed and tail == data[10:]
    del tail
    assert buf.exports == 0
    buf.close()
    assert buf.closed

    # Views outlive a Buffer that is dropped without close().
    buf2 = media.get("master.m3u8")
    view2 = buf2.memoryview()
    del buf2
    gc.collect()
    assert view2 == data
    view2.release()

    # with-blocks release in the right order.
    with media.get("master.m3u8") as buf3, buf3.memoryview() as view3:
        assert view3.tobytes() == data
    assert buf3.closed


def test_several_views_are_all_tracked(media: libhls.Media) -> None:
    with media.get("master.m3u8") as buf:
        a, b = buf.memoryview(), buf.memoryview()
        assert buf.exports == 2
        a.release()
        with pytest.raises(BufferError):
            buf.close()
        b.release()
        assert buf.exports == 0


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 688 (__buffer__) is Python 3.12+")
def test_buffer_protocol_on_312(media: libhls.Media) -> None:
    with media.get("master.m3u8") as buf:
        data = bytes(buf)
        view = memoryview(buf)  # type: ignore[arg-type,unused-ignore]
        assert view.readonly and view == data
        assert hashlib.sha256(buf).digest() == hashlib.sha256(data).digest()  # type: ignore[arg-type,unused-ignore]
        with pytest.raises(BufferError):
            buf.close()
        view.release()


def test_concurrent_close_never_crashes() -> None:
    """Threads serve from one Media (and open from one Context) while it is closed: every call
    succeeds or raises ClosedError."""
    for _ in range(5):
        ctx = libhls.Context()
        media = ctx.open(MEDIA / "h264_aac.mp4")
        names = list(crawl(media.get_bytes))
        outcomes: List[str] = []
        start = threading.Barrier(9)

        def work(i: int) -> None:
            start.wait()
            for k in range(200):
                try:
                    if i % 2:
                        with media.get(names[(i + k) % len(names)]) as buf:
                            bytes(buf)
                    else:
                        ctx.open(MEDIA / "h264_aac.mp4").close()
                    outcomes.append("ok")
                except libhls.ClosedError:
                    outcomes.append("closed")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        start.wait()
        media.close()
        ctx.close()
        for t in threads:
            t.join()
        assert len(outcomes) == 8 * 200
        assert set(outcomes) <= {"ok", "closed"}


def test_log_callback_receives_messages() -> None:
    got: List[Any] = []
    libhls.set_log_callback(lambda level, msg: got.append((level, msg)), libhls.LogLevel.TRACE)
    try:
        with libhls.Context() as ctx:
            with pytest.raises(libhls.HlsError):
                ctx.open(MEDIA / "text.mp4")
            with ctx.open(MEDIA / "dts.mkv") as media:
                crawl(media.get_bytes)
    finally:
        libhls.set_log_callback(None)
    assert got, "libhls logged nothing about a file that is not media"
    assert all(isinstance(level, libhls.LogLevel) and isinstance(msg, str) for level, msg in got)

    def boom(level: int, msg: str) -> None:
        raise RuntimeError("ignored")

    libhls.set_log_callback(boom, libhls.LogLevel.TRACE)
    try:
        with libhls.Context() as ctx, pytest.raises(libhls.HlsError):
            ctx.open(MEDIA / "text.mp4")
    finally:
        libhls.set_log_callback(None)


def test_context_repr_and_types() -> None:
    with libhls.Context() as ctx:
        assert "open" in repr(ctx)
        with ctx.open(Path(MEDIA) / "audio_only.mp3") as media:
            assert "audio_only.mp3" in repr(media)
            assert media.info["tracks"][0]["type"] == "audio"
    assert "closed" in repr(ctx)


def test_static_key_serves_aes128_segments_that_openssl_decrypts_to_the_clear_ones(
    ctx: libhls.Context,
) -> None:
    import subprocess

    key = bytes(range(16))
    enc = libhls.Encryption(libhls.EncryptionMethod.AES_128, key, "https://keys.example/k1")
    assert "000102" not in repr(enc)
    with ctx.open(MEDIA / "h264_aac.mp4", encryption=enc) as media, ctx.open(
        MEDIA / "h264_aac.mp4"
    ) as clear:
        playlist = media.get_bytes("t0.m3u8").decode()
        assert '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1"' in playlist
        assert media.get_bytes("t0_init.mp4") == clear.get_bytes("t0_init.mp4")
        segment = media.get_bytes("t0_2.m4s")
        assert segment != clear.get_bytes("t0_2.m4s")
        plain = subprocess.run(
            ["openssl", "enc", "-d", "-aes-128-cbc", "-K", key.hex(), "-iv", f"{2:032x}"],
            input=segment,
            capture_output=True,
            check=True,
        ).stdout
        assert plain == clear.get_bytes("t0_2.m4s")
        tracks = [t for t in media.info["tracks"] if t["served"]]
        assert tracks and all(t["encryption"]["method"] == "AES-128" for t in tracks)
    with pytest.raises(ValueError):
        libhls.Encryption(libhls.EncryptionMethod.AES_128, b"short", "k")
    with pytest.raises(libhls.UnsupportedError):
        ctx.open(
            MEDIA / "vp9_opus.webm",
            encryption=libhls.Encryption(libhls.EncryptionMethod.SAMPLE_AES, key, "k"),
        )
