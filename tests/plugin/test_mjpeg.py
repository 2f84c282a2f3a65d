"""MjpegParser: multipart bodies split into JPEG parts."""

import pytest

from octoprint_autofocus.focus.errors import CameraError
from octoprint_autofocus.mjpeg import MjpegParser



def multipart(parts, boundary="b", lengths=True):
    body = b"preamble junk\r\n"
    for part in parts:
        length = b"Content-Length: %d\r\n" % len(part) if lengths else b""
        body += b"--" + boundary.encode() + b"\r\nContent-Type: image/jpeg\r\n" + length + b"\r\n"
        body += part + b"\r\n"
    return body


JPEGS = [b"\xff\xd8one\xff\xd9", b"\xff\xd8second part\xff\xd9", b"\xff\xd8\x00\xff\xd9"]


@pytest.mark.parametrize("lengths", [True, False])
def test_parser_splits_parts_fed_one_byte_at_a_time(lengths):
    parser = MjpegParser("b")
    data = multipart(JPEGS, lengths=lengths)
    parts = [part for i in range(len(data)) for part in parser.feed(data[i : i + 1])]
    assert parts == JPEGS


def test_parser_accepts_a_declared_boundary_with_leading_dashes_and_quotes():
    parser = MjpegParser('"--myboundary"')
    assert parser.feed(multipart(JPEGS, boundary="--myboundary")) == JPEGS


def test_parser_with_length_returns_the_exact_body_even_if_it_contains_an_end_marker():
    tricky = b"\xff\xd8a\xff\xd9b\xff\xd9"
    assert MjpegParser("b").feed(multipart([tricky])) == [tricky]


def test_parser_gives_up_on_a_stream_without_parts(monkeypatch):
    monkeypatch.setattr("octoprint_autofocus.mjpeg.MAX_PART_BYTES", 1000)
    with pytest.raises(CameraError, match="no MJPEG frame"):
        MjpegParser("b").feed(b"x" * 2000)
