"""Images (Pillow) and audio / video (PyAV, which bundles FFmpeg): probing, frames, audio decoding."""

import base64
import io
import wave

from .model import DocumentError, Extracted


def extract_image(name: str, data: bytes) -> Extracted:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # structural check; needs a fresh open afterwards
        with Image.open(io.BytesIO(data)) as image:
            meta = {
                "width": image.width,
                "height": image.height,
                "mode": image.mode,
                "frames": getattr(image, "n_frames", 1),
            }
            fmt = (image.format or "image").lower()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise DocumentError(name, f"not a readable image: {type(exc).__name__}: {exc}") from exc
    return Extracted(name=name, kind="image", format=fmt, metadata=meta)


def image_data_url(name: str, data: bytes, max_side: int) -> str:
    """The image as a data URL a vision model accepts: RGB PNG/JPEG, scaled down to max_side."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((max_side, max_side))
            return pil_data_url(image)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DocumentError(name, f"not a readable image: {exc}") from exc


def pil_data_url(image) -> str:
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.convert("RGBA").save(buffer, format="PNG")
        mime = "image/png"
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _open_av(name: str, data: bytes):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise DocumentError(name, f"not a readable audio/video file: {exc}") from exc


def probe_media(name: str, data: bytes) -> Extracted:
    """Audio or video: duration and streams; video when it has a video stream that is not a cover picture."""
    with _open_av(name, data) as container:
        video = [s for s in container.streams.video if not _is_cover(s)]
        audio = list(container.streams.audio)
        if not video and not audio:
            raise DocumentError(name, "no audio or video stream in the file")
        duration = container.duration / 1_000_000 if container.duration else None
        meta = {
            "duration_s": round(duration, 3) if duration else "unknown",
            "container": container.format.name,
        }
        if video:
            s = video[0]
            meta |= {
                "width": s.codec_context.width,
                "height": s.codec_context.height,
                "video_codec": s.codec_context.name,
            }
        if audio:
            meta |= {
                "audio_codec": audio[0].codec_context.name,
                "sample_rate": audio[0].codec_context.sample_rate,
            }
        kind = "video" if video else "audio"
    return Extracted(name=name, kind=kind, format=kind, metadata=meta)


def _is_cover(stream) -> bool:
    return bool(stream.disposition & 0x400) if hasattr(stream, "disposition") else False  # attached_pic


def video_frames(name: str, data: bytes, count: int) -> list[tuple[float, object]]:
    """`count` frames sampled evenly over the video, as (seconds, PIL image)."""
    import av

    with _open_av(name, data) as container:
        streams = [s for s in container.streams.video if not _is_cover(s)]
        if not streams:
            raise DocumentError(name, "no video stream in the file")
        stream = streams[0]
        duration = (container.duration / 1_000_000) if container.duration else None
        frames = []
        try:
            if duration and stream.time_base:
                for i in range(count):
                    target = duration * (i + 0.5) / count
                    container.seek(int(target / stream.time_base), stream=stream, backward=True)
                    for frame in container.decode(stream):
                        if frame.time is None or frame.time >= target - 0.05:
                            frames.append((round(frame.time or target, 2), frame.to_image()))
                            break
            else:  # no duration known: take the first frames
                for frame in container.decode(stream):
                    frames.append((round(frame.time or 0.0, 2), frame.to_image()))
                    if len(frames) >= count:
                        break
        except av.FFmpegError as exc:
            if not frames:
                raise DocumentError(name, f"video frames could not be decoded: {exc}") from exc
        if not frames:
            raise DocumentError(name, "no decodable video frame")
        return frames


def decode_audio(name: str, data: bytes, rate: int = 16_000, max_seconds: float = 4 * 3600):
    """The first audio stream as mono float32 samples at `rate` Hz (for a local speech model)."""
    import av
    import numpy as np

    with _open_av(name, data) as container:
        if not container.streams.audio:
            raise DocumentError(name, "no audio stream in the file")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, total = [], 0
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total > max_seconds * rate:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            raise DocumentError(name, f"audio could not be decoded: {exc}") from exc
    if not chunks:
        raise DocumentError(name, "the audio stream is empty")
    return np.concatenate(chunks).astype("float32")


def audio_wav(name: str, data: bytes, rate: int = 16_000) -> bytes:
    """The audio track re-encoded as 16-bit mono WAV (what every transcription endpoint accepts)."""
    import numpy as np

    samples = decode_audio(name, data, rate)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
